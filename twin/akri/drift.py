"""Faults that model a hand edit of a deployed Akri release: what an operator changed afterwards.

Helm writes a release's objects only on install and upgrade, and the suite's install check reads
the release's chart and values (`helm list`, `helm get values`), not the live objects. So an
object edited by hand after the install (`kubectl set image`, `kubectl edit akric`, or a
Configuration re-applied from `helm template` output, as akri-docs' "customizing an Akri
installation" suggests) stays edited, and the check finds nothing to redo. Each fault below
edits one object of the release as soon as the store holds it; the edit is idempotent, so a
later Helm write is edited again (as the operator's change would be re-made).

* `stale-component-image`: the controller Deployment runs `controller:latest-dev`, the tag that
  is frozen since Oct 2023 (docs/facts.md#akri-charts, docs/facts.md#component-images), as
  after `kubectl set image`.
* `capture-only-rule`: the udev rule also asks for `ENV{ID_V4L_CAPABILITIES}==":capture:"`, as in
  akri#494; v4l2loopback nodes announce `:video_output:`, so no camera matches
  (docs/facts.md#udev-capabilities).
* `broker-config-resource`: the broker pod spec asks for the Configuration-level resource
  `akri.sh/<config>` instead of `{{PLACEHOLDER}}`, so the controller cannot name the Instance's
  own resource (shared/src/k8s/pod.rs `modify_pod_spec` renames only the placeholder,
  docs/facts.md#device-plugin-resources): each broker gets whichever camera the Configuration
  plugin hands out, not its own.
* `crds-deleted`: both Akri CRDs deleted by hand once the release is in (the docs' cleanup step,
  `kubectl delete crd instances.akri.sh configurations.akri.sh`, docs/facts.md#helm-cleanup-hook,
  run while the release stays); their objects go with them, Helm still lists the release as
  deployed.
* `service-selector-mismatch`: the instance service spec carries a selector (`app:
  <config>-broker`) that no broker has; the controller adds its own labels to the spec's
  selector instead of replacing it (shared/src/k8s/service.rs `create_new_service_from_spec`),
  so the instance services select no pod and have no endpoints.
* `webhook-admits-invalid`: the release's ValidatingWebhookConfiguration deleted by hand
  (`kubectl delete validatingwebhookconfiguration akri-webhook-configuration`, as after an
  install that a webhook without endpoints refused); the webhook's pod still runs, but the API
  server no longer asks it, so a Configuration with an unknown brokerPodSpec field is stored as
  the CRD's schema keeps it (x-kubernetes-preserve-unknown-fields, docs/facts.md#akri-webhook).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

import yaml

from twin.akri.controller import PLACEHOLDER
from twin.kubeapi.store import NotFound

log = logging.getLogger(__name__)
CONTROLLER = "akri-controller-deployment"
CAPTURE_CLAUSE = 'ENV{ID_V4L_CAPABILITIES}==":capture:"'


def _stale_controller(obj: dict) -> None:
    for container in obj["spec"]["template"]["spec"].get("containers", []):
        repository = container["image"].rsplit(":", 1)[0]
        container["image"] = f"{repository}:latest-dev"


def _capture_only(obj: dict) -> None:
    handler = obj["spec"]["discoveryHandler"]
    details = yaml.safe_load(handler.get("discoveryDetails") or "") or {}
    details["udevRules"] = [
        rule if CAPTURE_CLAUSE in rule else f"{rule}, {CAPTURE_CLAUSE}"
        for rule in details.get("udevRules") or []
    ]
    handler["discoveryDetails"] = yaml.safe_dump(details, sort_keys=False, width=10000)


def _config_resource(obj: dict) -> None:
    resource = f"akri.sh/{obj['metadata']['name']}"
    pod = (obj["spec"].get("brokerSpec") or {}).get("brokerPodSpec") or {}
    for container in pod.get("containers", []):
        for part in (container.get("resources") or {}).values():
            if PLACEHOLDER in part:
                part[resource] = part.pop(PLACEHOLDER)


def _extra_selector(obj: dict) -> None:
    spec = obj["spec"].get("instanceServiceSpec")
    if spec is not None:
        spec["selector"] = {"app": f"{obj['metadata']['name']}-broker"}


def _is_controller(obj: dict) -> bool:
    return obj["kind"] == "Deployment" and obj["metadata"]["name"] == CONTROLLER


def _is_udev_config(obj: dict) -> bool:
    handler = (obj.get("spec") or {}).get("discoveryHandler") or {}
    return obj["kind"] == "Configuration" and handler.get("name") == "udev"


EDITS: dict[str, tuple[Callable[[dict], bool], Callable[[dict], None]]] = {
    "stale-component-image": (_is_controller, _stale_controller),
    "capture-only-rule": (_is_udev_config, _capture_only),
    "broker-config-resource": (_is_udev_config, _config_resource),
    "service-selector-mismatch": (_is_udev_config, _extra_selector),
}
# faults that delete rather than edit: what must exist first, and what then goes
DELETIONS: dict[str, tuple[Callable[[dict], bool], tuple[tuple[str, str], ...]]] = {
    "crds-deleted": (
        _is_udev_config,  # Helm writes the Configuration last of the CRDs' users
        (
            ("CustomResourceDefinition", "instances.akri.sh"),
            ("CustomResourceDefinition", "configurations.akri.sh"),
        ),
    ),
    "webhook-admits-invalid": (
        _is_udev_config,
        (("ValidatingWebhookConfiguration", "akri-webhook-configuration"),),
    ),
}


class HandEdits:
    """Applies the hand edits of the active faults to the objects they concern."""

    def __init__(self, store: Any, faults: frozenset[str]) -> None:
        self._store = store
        self._edits = [EDITS[f] for f in sorted(faults) if f in EDITS]
        self._deletions = [DELETIONS[f] for f in sorted(faults) if f in DELETIONS]
        if self._edits or self._deletions:
            store.subscribe(self._on_event)

    def _on_event(self, event_type: str, obj: dict) -> None:
        if event_type == "DELETED":
            return
        meta = obj["metadata"]
        for concerns, edit in self._edits:
            if not concerns(obj):
                continue
            try:
                # the store writes (and notifies) only if the edit changed something
                self._store.patch(obj["kind"], meta.get("namespace"), meta["name"], edit)
            except NotFound:
                log.debug("%s %s went before the hand edit", obj["kind"], meta["name"])
        for concerns, doomed in self._deletions:
            if concerns(obj):
                for kind, name in doomed:
                    with contextlib.suppress(NotFound):
                        self._store.delete(kind, None, name)
