"""The Akri chart's udev Configuration template (templates/udev-configuration.yaml).

The Configuration exists only when `udev.configuration.enabled` is true and then requires a udev
rule, as the chart's `required` does. Pre-0.6 value names (`udev.enabled`, `udev.name`,
`udev.udevRules`) are not read here, so they are ignored as the real chart ignores them
(docs/facts.md#helm-values). Without a broker image there is no brokerSpec and no service
specs.
"""

from __future__ import annotations

from typing import Any

import yaml

from twin.charts.catalogue import ChartVersion

UDEV_RULE_REQUIRED = (
    "Please set at least one udev rule with `--set udev.configuration.discoveryDetails."
    'udevRules[0]=="<udev rule>"\' to specify what you want discovered. See the udev '
    "Configuration document at https://docs.akri.sh/discovery-handlers/udev for more information."
)


class RenderError(Exception):
    """A template failed (`required`), with Helm's `execution error at (...)` text."""


def udev_configuration(chart: ChartVersion, values: dict[str, Any]) -> dict[str, Any] | None:
    """templates/udev-configuration.yaml: the Configuration, or None when not enabled."""
    cfg = values["udev"]["configuration"]
    if not cfg.get("enabled"):
        return None
    details = cfg.get("discoveryDetails") or {}
    rules = details.get("udevRules")
    if rules is None or rules == "":
        line = 12 if chart.has_permissions else 11
        raise RenderError(
            f"execution error at ({chart.name}/templates/udev-configuration.yaml:{line}:10): "
            + UDEV_RULE_REQUIRED
        )
    text = f"groupRecursive: {_go_bool(details.get('groupRecursive'))}\n"
    text += yaml.safe_dump({"udevRules": rules}, default_flow_style=False, width=10000)
    if chart.has_permissions:
        text += f"permissions: {details.get('permissions')}\n"
    name = cfg.get("name")
    spec: dict[str, Any] = {"discoveryHandler": {"name": "udev", "discoveryDetails": text}}
    pod = cfg.get("brokerPod") or {}
    image = pod.get("image") or {}
    if image.get("repository"):
        res = pod.get("resources") or {}
        container: dict[str, Any] = {
            "name": f"{name}-broker",
            "image": f"{image['repository']}:{image.get('tag')}",
        }
        if image.get("pullPolicy"):
            container["imagePullPolicy"] = image["pullPolicy"]
        if pod.get("env"):
            container["env"] = [{"name": k, "value": str(v)} for k, v in sorted(pod["env"].items())]
        container["securityContext"] = pod.get("securityContext") or {"privileged": True}
        container["resources"] = {
            "requests": {
                "{{PLACEHOLDER}}": "1",
                "memory": res.get("memoryRequest"),
                "cpu": res.get("cpuRequest"),
            },
            "limits": {
                "{{PLACEHOLDER}}": "1",
                "memory": res.get("memoryLimit"),
                "cpu": res.get("cpuLimit"),
            },
        }
        spec["brokerSpec"] = {"brokerPodSpec": {"containers": [container]}}
        for flag, key, spec_key in (
            ("createInstanceServices", "instanceService", "instanceServiceSpec"),
            ("createConfigurationService", "configurationService", "configurationServiceSpec"),
        ):
            if cfg.get(flag):
                svc = cfg.get(key) or {}
                port = {k: svc.get(v) for k, v in (("name", "portName"), ("port", "port"))}
                port.update(protocol=svc.get("protocol"), targetPort=svc.get("targetPort"))
                spec[spec_key] = {"type": svc.get("type"), "ports": [port]}
    props = cfg.get("brokerProperties") or {}
    spec["brokerProperties"] = {str(k): str(v) for k, v in props.items()}
    spec["capacity"] = cfg.get("capacity")
    return {
        "apiVersion": "akri.sh/v0",
        "kind": "Configuration",
        "metadata": {"name": name},
        "spec": spec,
    }


def _go_bool(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
