"""Validating admission webhooks: the API server asks them after schema validation, before storing.

kube-apiserver calls every webhook of every ValidatingWebhookConfiguration whose rules match the
write (operation, API group, version, resource) after the object passed its own validation (a
malformed object is a 422 Invalid first) and before it is stored (so an AlreadyExists comes
after). A webhook that denies turns into the refusal `ToStatusErr` builds
(k8s.io/apiserver admission/plugin/webhook/errors/statuserror.go): the webhook's own code and
reason, or 403 Forbidden, with the message
`<resource>.<group> "<name>" is forbidden: admission webhook "<webhook>" denied the request:
<its message>` (docs/facts.md#webhook-refusal). The twin reaches a webhook's service through the
backend registered for it (`ObjectStore.webhook_backends`, keyed by the service's namespace and
name): Akri registers its Configuration webhook there (`twin.akri.webhook`). A webhook with no
backend is skipped: an unreachable webhook (no ready endpoint, failurePolicy) is not modelled.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

from twin.kubeapi.kinds import Resource

#: a webhook's service: (namespace, name) -> answers an AdmissionReview request
Backend = Callable[[dict], dict]


class Denied(ValueError):
    """A validating webhook refused the write: the status the API server answers with."""

    def __init__(self, code: int, reason: str, message: str, details: dict) -> None:
        super().__init__(message)
        self.code, self.reason, self.details = code, reason, details


def _matches(rule: dict, res: Resource, operation: str) -> bool:
    def has(key: str, value: str) -> bool:
        wanted = rule.get(key) or []
        return "*" in wanted or value in wanted

    return (
        has("operations", operation)
        and has("apiGroups", res.group)
        and has("apiVersions", res.version)
        and has("resources", res.plural)
    )


def denial(res: Resource, name: str, webhook: str, status: dict | None) -> Denied:
    """The refusal kube-apiserver answers when `webhook` denied a write with `status`."""
    status = dict(status or {})
    code = int(status.get("code") or 403)
    reason = status.get("reason") or ("InternalError" if code == 500 else "Forbidden")
    denied = f'admission webhook "{webhook}" denied the request'
    said = status.get("message") or status.get("reason")
    message = f"{denied}: {said}" if said else f"{denied} without explanation"
    resource = f"{res.plural}.{res.group}" if res.group else res.plural
    prefix = "Internal error occurred" if code == 500 else f'{resource} "{name}" is forbidden'
    details = {"group": res.group, "kind": res.plural, "name": name}
    return Denied(code, reason, f"{prefix}: {message}", details)


def review(
    configurations: Iterable[dict],
    backends: dict[tuple[str, str], Backend],
    obj: dict,
    res: Resource,
    operation: str,
) -> None:
    """Ask every matching webhook about `obj`; raise Denied for the first that refuses."""
    for config in configurations:
        for hook in config.get("webhooks") or []:
            if not any(_matches(r, res, operation) for r in hook.get("rules") or []):
                continue
            service = (hook.get("clientConfig") or {}).get("service") or {}
            backend = backends.get((service.get("namespace", ""), service.get("name", "")))
            if backend is None:
                continue
            meta = obj.get("metadata") or {}
            request = {
                "uid": str(uuid.uuid4()),
                "kind": {"group": res.group, "version": res.version, "kind": res.kind},
                "resource": {"group": res.group, "version": res.version, "resource": res.plural},
                "name": meta.get("name", ""),
                "namespace": meta.get("namespace", ""),
                "operation": operation,
                "object": obj,
            }
            answer = backend(request)
            if not answer.get("allowed"):
                raise denial(res, meta.get("name", ""), hook.get("name", ""), answer.get("status"))
