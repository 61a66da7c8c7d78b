"""The Akri Helm charts the twin's `helm` knows: catalogue, default values and CRDs.

The repository `https://project-akri.github.io/akri/` serves two charts, `akri` (releases, `v<ver>`
images) and `akri-dev` (every merge, `v<ver>-dev` images), docs/facts.md#akri-charts. This module
holds what differs between chart versions (values.yaml defaults, the `crds/` directory with the
`all` category only in recent dev charts, the pre-0.13.2 crictl socket) and Helm's value coalescing;
`twin.charts.templates` renders the templates from these values.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import yaml

REPO_URL = "https://project-akri.github.io/akri/"
DESCRIPTION = "A Helm chart for Akri"
IMAGES = "ghcr.io/project-akri/akri"
# Newest first, as `helm search repo --versions` lists them.
CATALOGUE: dict[str, tuple[str, ...]] = {
    "akri": ("0.13.8", "0.12.20", "0.12.9"),
    "akri-dev": ("0.13.26", "0.13.25", "0.13.21"),
}


def _vtuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


@dataclass(frozen=True)
class ChartVersion:
    """One chart version of the catalogue."""

    name: str
    version: str

    @property
    def app_version(self) -> str:
        """Akri sets appVersion = version."""
        return self.version

    @property
    def label(self) -> str:
        """The `helm.sh/chart` label and the CHART column of `helm list`."""
        return f"{self.name}-{self.version}"

    @property
    def dev(self) -> bool:
        """akri-dev charts use development (`-dev`) images."""
        return self.name == "akri-dev"

    @property
    def crds_in_all_category(self) -> bool:
        """PR #800 (2026-04) added category `all`: after 0.13.8, so dev charts >= 0.13.22."""
        return self.dev and _vtuple(self.version) >= (0, 13, 22)

    @property
    def has_permissions(self) -> bool:
        """`discoveryDetails.permissions` is newer than the 0.13.8 release."""
        return _vtuple(self.version) > (0, 13, 8)

    @property
    def legacy_crictl(self) -> bool:
        """Before 0.13.2 the agent used crictl and `kubernetesDistro` chose its socket."""
        return _vtuple(self.version) < (0, 13, 2)


def chart_versions(name: str) -> list[ChartVersion]:
    """All versions of one chart, newest first (empty if the chart is unknown)."""
    return [ChartVersion(name, v) for v in CATALOGUE.get(name, ())]


def _res(mem_req: str, cpu_req: str, mem_lim: str, cpu_lim: str) -> dict[str, str]:
    return {
        "memoryRequest": mem_req,
        "cpuRequest": cpu_req,
        "memoryLimit": mem_lim,
        "cpuLimit": cpu_lim,
    }


def _svc_values() -> dict[str, Any]:
    return {
        "portName": "grpc",
        "type": "ClusterIP",
        "port": 80,
        "targetPort": 8083,
        "protocol": "TCP",
    }


def default_values(chart: ChartVersion) -> dict[str, Any]:
    """The chart's values.yaml (the parts the twin renders)."""
    details: dict[str, Any] = {"udevRules": None, "groupRecursive": False}
    if chart.has_permissions:
        details["permissions"] = "rwm"
    values: dict[str, Any] = {
        "useLatestContainers": False,
        "useDevelopmentContainers": chart.dev,
        "imagePullSecrets": [],
        "crds": {"group": "akri.sh", "version": "v0"},
        "rbac": {"enabled": True},
        "controller": {
            "enabled": True,
            "image": {"repository": f"{IMAGES}/controller", "tag": None, "pullPolicy": ""},
            "resources": _res("11Mi", "10m", "100Mi", "26m"),
        },
        "agent": {
            "enabled": True,
            "full": False,
            "image": {
                "repository": f"{IMAGES}/agent",
                "fullRepository": f"{IMAGES}/agent-full",
                "tag": None,
                "pullPolicy": "",
            },
            "host": {
                "discoveryHandlers": "/var/lib/akri",
                "kubeletDevicePlugins": "/var/lib/kubelet/device-plugins",
                "kubeletPodResources": "/var/lib/kubelet/pod-resources",
            },
            "resources": _res("11Mi", "10m", "79Mi", "26m"),
        },
        "udev": {
            "configuration": {
                "enabled": False,
                "name": "akri-udev",
                "brokerProperties": {},
                "discoveryDetails": details,
                "capacity": 1,
                "brokerPod": {
                    "image": {"repository": None, "tag": "latest", "pullPolicy": ""},
                    "env": {},
                    "resources": _res("10Mi", "10m", "30Mi", "29m"),
                    "securityContext": {},
                },
                "createInstanceServices": True,
                "instanceService": _svc_values(),
                "createConfigurationService": True,
                "configurationService": _svc_values(),
            },
            "discovery": {
                "enabled": False,
                "image": {"repository": f"{IMAGES}/udev-discovery", "tag": None, "pullPolicy": ""},
                "host": {"udev": "/run/udev"},
                "resources": _res("11Mi", "10m", "24Mi", "24m"),
            },
        },
        "webhookConfiguration": {
            "enabled": True,
            "name": "akri-webhook-configuration",
            "caBundle": None,
            "image": {
                "repository": f"{IMAGES}/webhook-configuration",
                "tag": None,
                "pullPolicy": "Always",
            },
            "certImage": {
                "reference": "registry.k8s.io/ingress-nginx/kube-webhook-certgen",
                "tag": "v1.6.9",
                "pullPolicy": "IfNotPresent",
            },
            "resources": _res("100Mi", "15m", "100Mi", "26m"),
        },
        "cleanupHook": {"enabled": True},
    }
    if chart.legacy_crictl:
        values["kubernetesDistro"] = ""
    return values


def coalesce(defaults: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """Helm's value coalescing: user values win, maps merge, a user null deletes a default."""
    out = copy.deepcopy(defaults)
    for key, val in user.items():
        if val is None:
            out.pop(key, None)
        elif isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key] = coalesce(out[key], val)
        else:
            out[key] = copy.deepcopy(val)
    return out


# deployment/helm/crds/*.yaml (HEAD): only v0, served and stored; the `all` category depends
# on the chart version (PR #800).
_CRD_SCHEMAS = yaml.safe_load(
    """
Configuration:
  short: akric
  columns:
  - {name: Capacity, type: integer, description: The capacity for each Instance discovered,
     jsonPath: .spec.capacity}
  spec:
    type: object
    properties:
      discoveryHandler:
        type: object
        required: [name]
        properties:
          name: {type: string}
          discoveryDetails: {type: string}
          discoveryProperties:
            type: array
            nullable: true
            items: {type: object, x-kubernetes-preserve-unknown-fields: true}
      capacity: {type: integer}
      brokerSpec:
        type: object
        nullable: true
        properties:
          brokerPodSpec: {type: object, nullable: true, x-kubernetes-preserve-unknown-fields: true}
          brokerJobSpec: {type: object, nullable: true, x-kubernetes-preserve-unknown-fields: true}
      instanceServiceSpec: &svc
        {type: object, nullable: true, x-kubernetes-preserve-unknown-fields: true}
      configurationServiceSpec: *svc
      brokerProperties: {type: object, additionalProperties: {type: string}}
Instance:
  short: akrii
  columns:
  - {name: Config, type: string, description: The Configuration this Instance belongs to,
     jsonPath: .spec.configurationName}
  - {name: Shared, type: boolean, description: Describes whether this Instance is shared,
     jsonPath: .spec.shared}
  - {name: Nodes, type: string, description: Nodes that expose this Instance, jsonPath: .spec.nodes}
  spec:
    type: object
    required: [capacity, cdiName, configurationName]
    properties:
      configurationName: {type: string}
      cdiName: {type: string}
      capacity: {type: integer}
      brokerProperties: {type: object, additionalProperties: {type: string}}
      shared: {type: boolean}
      nodes: {type: array, items: {type: string}}
      deviceUsage: {type: object, additionalProperties: {type: string}}
"""
)


def crds(chart: ChartVersion, now: str) -> list[dict[str, Any]]:
    """The two CRDs of `crds/`, as the API server returns them once Established."""
    out = []
    for kind, data in copy.deepcopy(_CRD_SCHEMAS).items():
        plural = kind.lower() + "s"
        names: dict[str, Any] = {
            "plural": plural,
            "singular": kind.lower(),
            "kind": kind,
            "listKind": f"{kind}List",
            "shortNames": [data["short"]],
        }
        if chart.crds_in_all_category:
            names["categories"] = ["all"]
        age = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        version = {
            "name": "v0",
            "served": True,
            "storage": True,
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": data["spec"]}}},
            "additionalPrinterColumns": [*data["columns"], age],
        }
        conditions = [
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ]
        status = {
            "acceptedNames": copy.deepcopy(names),
            "storedVersions": ["v0"],
            "conditions": [
                {"type": t, "status": "True", "reason": r, "message": m, "lastTransitionTime": now}
                for t, r, m in conditions
            ],
        }
        spec = {
            "group": "akri.sh",
            "names": names,
            "scope": "Namespaced",
            "conversion": {"strategy": "None"},
            "versions": [version],
        }
        out.append(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"{plural}.akri.sh"},
                "spec": spec,
                "status": status,
            }
        )
    return out
