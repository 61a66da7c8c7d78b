"""Akri's Configuration webhook (`webhooks/validating/configuration`): what it admits and its words.

The webhook parses the Configuration the API server sends into Akri's typed `Configuration`
(k8s-openapi's PodSpec, Container and ServiceSpec inside), serialises that back, and compares
the request's object with it key by key (sorted, as serde_json's map iterates): a key the typed
round trip dropped, an unknown field, refuses the request with the chain of keys that led to it,
each level quoted as Rust's `{:?}` quotes the inner error, innermost
"no matching value in `deserialized`" (docs/facts.md#akri-webhook). The API server wraps that
text in its refusal (`twin.kubeapi.webhooks`, docs/facts.md#webhook-refusal). Nested typed
fields below a PodSpec, Container or ServiceSpec key (probes, volumes, securityContext) are not
modelled: they pass as given. Nor is the udev discoveryDetails check (its permissions).
"""

from __future__ import annotations

from typing import Any

_META = {"annotations", "creationTimestamp", "deletionGracePeriodSeconds", "deletionTimestamp",
         "finalizers", "generateName", "generation", "labels", "managedFields", "name",
         "namespace", "ownerReferences", "resourceVersion", "selfLink", "uid"}  # fmt: skip
_POD_SPEC = {"activeDeadlineSeconds", "affinity", "automountServiceAccountToken", "containers",
             "dnsConfig", "dnsPolicy", "enableServiceLinks", "ephemeralContainers",
             "hostAliases", "hostIPC", "hostNetwork", "hostPID", "hostUsers", "hostname",
             "imagePullSecrets", "initContainers", "nodeName", "nodeSelector", "os", "overhead",
             "preemptionPolicy", "priority", "priorityClassName", "readinessGates",
             "resourceClaims", "resources", "restartPolicy", "runtimeClassName",
             "schedulerName", "schedulingGates", "securityContext", "serviceAccount",
             "serviceAccountName", "setHostnameAsFQDN", "shareProcessNamespace", "subdomain",
             "terminationGracePeriodSeconds", "tolerations", "topologySpreadConstraints",
             "volumes"}  # fmt: skip
_CONTAINER = {"args", "command", "env", "envFrom", "image", "imagePullPolicy", "lifecycle",
              "livenessProbe", "name", "ports", "readinessProbe", "resizePolicy", "resources",
              "restartPolicy", "securityContext", "startupProbe", "stdin", "stdinOnce",
              "terminationMessagePath", "terminationMessagePolicy", "tty", "volumeDevices",
              "volumeMounts", "workingDir"}  # fmt: skip
_SERVICE_SPEC = {"allocateLoadBalancerNodePorts", "clusterIP", "clusterIPs", "externalIPs",
                 "externalName", "externalTrafficPolicy", "healthCheckNodePort",
                 "internalTrafficPolicy", "ipFamilies", "ipFamilyPolicy", "loadBalancerClass",
                 "loadBalancerIP", "loadBalancerSourceRanges", "ports", "publishNotReadyAddresses",
                 "selector", "sessionAffinity", "sessionAffinityConfig", "trafficDistribution",
                 "type"}  # fmt: skip
_SPEC = {"discoveryHandler", "capacity", "brokerSpec", "instanceServiceSpec",
         "configurationServiceSpec", "brokerProperties"}  # fmt: skip
_FILTERED = ("creationTimestamp", "deletionTimestamp", "managedFields")  # filter_configuration
NO_MATCH = "no matching value in `deserialized`"


def _debug(text: str) -> str:
    """A string as Rust's `{:?}` prints it."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pod_spec(pod: Any) -> list[str | int] | None:
    """The path to the first field of a PodSpec the typed round trip drops, or None."""
    if not isinstance(pod, dict):
        return None
    for key in sorted(pod):
        if key not in _POD_SPEC and pod[key] is not None:
            return [key]
        if key in ("containers", "initContainers") and isinstance(pod[key], list):
            for i, container in enumerate(pod[key]):
                dropped = sorted(set(container or {}) - _CONTAINER)
                if dropped:
                    return [key, i, dropped[0]]
    return None


def _unknown(config: dict) -> list[str | int] | None:
    """The key path (sorted order) to the first field Akri's typed Configuration drops."""
    for key in sorted(config):
        if key not in ("apiVersion", "kind", "metadata", "spec"):
            return [key]
    meta = {k: v for k, v in (config.get("metadata") or {}).items() if k not in _FILTERED}
    dropped = sorted(set(meta) - _META)
    if dropped:
        return ["metadata", dropped[0]]
    spec = config.get("spec") or {}
    for key in sorted(spec):
        if key not in _SPEC:
            return ["spec", key]
        if key == "brokerSpec":
            found = _pod_spec((spec[key] or {}).get("brokerPodSpec"))
            if found:
                return ["spec", key, "brokerPodSpec", *found]
        if key.endswith("ServiceSpec") and isinstance(spec[key], dict):
            extra = sorted(set(spec[key]) - _SERVICE_SPEC)
            if extra:
                return ["spec", key, extra[0]]
    return None


def refusal(path: list[str | int]) -> str:
    """The webhook's message for a dropped field: `input key ("spec") not equal to parsed: ...`."""
    text = NO_MATCH
    for step in reversed(path):
        where = f"index ({step})" if isinstance(step, int) else f"key ({_debug(step)})"
        text = f"input {where} not equal to parsed: ({_debug(text)})"
    return text


def review(request: dict) -> dict:
    """The webhook's AdmissionResponse to one AdmissionRequest (POST /validate)."""
    config = request.get("object")
    if not config:
        message = "AdmissionRequest object contains no data"
        return {"uid": request.get("uid"), "allowed": False, "status": {"message": message}}
    path = _unknown(config)
    if path is None:
        return {"uid": request.get("uid"), "allowed": True}
    return {"uid": request.get("uid"), "allowed": False, "status": {"message": refusal(path)}}
