"""Building blocks of the Akri chart's objects: labels, image references, containers, workloads.

Labels follow `_helpers.tpl` (docs/facts.md#chart-labels): `app.kubernetes.io/part-of` is the
chart's own name (`akri-dev` for the akri-dev chart), `instance` the release, `helm.sh/chart`
`<chart>-<version>`; images follow the component templates (`v<ver>[-dev]`, `latest-dev` only
with `useLatestContainers`, docs/facts.md#akri-charts and docs/facts.md#component-images).
Workloads carry the defaults the API server would add, so
clients that validate complete objects accept them.
"""

from __future__ import annotations

from typing import Any

from twin.charts.catalogue import ChartVersion


def image_ref(chart: ChartVersion, values: dict[str, Any], repository: str, tag: Any) -> str:
    """The image reference every component template computes (latest-dev when asked).

    See docs/facts.md#component-images.
    """
    if tag:
        return f"{repository}:{tag}"
    dev = values.get("useDevelopmentContainers")
    if values.get("useLatestContainers"):
        return f"{repository}:{'latest-dev' if dev else 'latest'}"
    return f"{repository}:v{chart.app_version}{'-dev' if dev else ''}"


def chart_labels(chart: ChartVersion, release: str, name: str, component: str) -> dict[str, str]:
    """`akri.labels` plus the component's name and component labels.

    See docs/facts.md#chart-labels and docs/facts.md#akri-components.
    """
    return {
        "helm.sh/chart": chart.label,
        # `akri.name` = `default .Chart.Name`: the published akri-dev chart is named akri-dev
        "app.kubernetes.io/part-of": chart.name,
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/version": chart.app_version,
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
    }


def component_container(
    name: str, image: str, pull: str, res: dict[str, str], **extra: Any
) -> dict:
    """A container with the chart's resources block."""
    out: dict[str, Any] = {"name": name, "image": image}
    if pull:
        out["imagePullPolicy"] = pull
    out["resources"] = {
        "requests": {"memory": res["memoryRequest"], "cpu": res["cpuRequest"]},
        "limits": {"memory": res["memoryLimit"], "cpu": res["cpuLimit"]},
    }
    out.update(extra)
    return out


def workload(kind: str, name: str, labels: dict[str, str], pod: dict[str, Any]) -> dict:
    """A DaemonSet or Deployment with the API server's defaults filled in."""
    selector = {k: labels[k] for k in ("app.kubernetes.io/part-of", "app.kubernetes.io/instance")}
    selector["app.kubernetes.io/name"] = labels["app.kubernetes.io/name"]
    pod = {
        "restartPolicy": "Always",
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
        "nodeSelector": {"kubernetes.io/os": "linux"},
        **pod,
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector},
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        "revisionHistoryLimit": 10,
    }
    if kind == "DaemonSet":
        rolling = {"maxUnavailable": 1, "maxSurge": 0}
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": rolling}
    else:
        rolling = {"maxUnavailable": "25%", "maxSurge": "25%"}
        spec.update(replicas=1, progressDeadlineSeconds=600)
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": rolling}
    api = "apps/v1"
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }


def host_volumes(mounts: list[tuple[str, str, str]]) -> tuple[list[dict], list[dict]]:
    """volumeMounts and hostPath volumes for (name, host path, mount path) triples."""
    vols = [{"name": n, "hostPath": {"path": host}} for n, host, _ in mounts]
    return [{"name": n, "mountPath": path} for n, _, path in mounts], vols


def meta(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """metadata with a copy of the labels."""
    return {"name": name, "labels": dict(labels)}
