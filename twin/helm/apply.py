"""How a Helm release's objects reach the cluster: CRDs, install order, ownership, hooks, pruning.

CRDs come from the chart's `crds/` and are created on install only, never under the
`no-akri-crds` fault (then every Akri object fails the way Helm fails on a kind with no mapping);
objects are applied in Helm's InstallOrder with Helm's ownership annotations, an object another
release (or nobody) owns is refused, the webhook's certgen hooks leave their Secret and patch the
ValidatingWebhookConfiguration, and an upgrade deletes what its manifest no longer has.
"""

from __future__ import annotations

from typing import Any

import yaml

from twin.charts import catalogue
from twin.helm.flags import Flags, HelmError
from twin.helm.releases import Release
from twin.kubeapi.meta import now

# Helm's InstallOrder (pkg/release/util/kind_sorter.go); other kinds go last, by name.
INSTALL_ORDER = (
    *("Namespace", "ServiceAccount", "Secret", "ConfigMap", "CustomResourceDefinition"),
    *("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "DaemonSet"),
    *("Pod", "ReplicaSet", "Deployment", "Job"),
)
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration"}


def install_order(obj: dict[str, Any]) -> tuple[int, str]:
    """The sort key that puts a manifest in Helm's install order."""
    kind = obj["kind"]
    rank = INSTALL_ORDER.index(kind) if kind in INSTALL_ORDER else len(INSTALL_ORDER)
    return rank, kind


class ReleaseObjects:
    """Writes and deletes a release's objects in the store."""

    def __init__(self, store: Any, faults: frozenset[str]) -> None:
        self._store = store
        self._faults = faults

    def apply(
        self, rel: Release, objects: list[dict], prev: Release | None, flags: Flags
    ) -> list[str]:
        """Create CRDs (install only), run hooks, apply the objects; the objects it could not map.

        With `prev` (an upgrade) the objects the new manifest dropped are deleted and `prev` is
        superseded; `rel` gets the keys and manifest of what it owns.
        """
        ns, hooks = rel.namespace, not flags.has("no-hooks")
        if prev is None and "no-akri-crds" not in self._faults and not flags.has("skip-crds"):
            for crd in catalogue.crds(rel.chart, now()):
                if self._store.get("CustomResourceDefinition", None, crd["metadata"]["name"]):
                    continue
                self._store.create(crd)
        for obj in objects:
            meta = obj["metadata"]
            meta.setdefault("annotations", {}).update(
                {"meta.helm.sh/release-name": rel.name, "meta.helm.sh/release-namespace": ns}
            )
            meta.setdefault("labels", {})["app.kubernetes.io/managed-by"] = "Helm"
            if obj["kind"] not in CLUSTER_SCOPED:
                meta["namespace"] = ns
            self._check_ownership(obj, rel)
        webhook = rel.computed["webhookConfiguration"]
        if hooks and webhook.get("enabled"):
            self._certgen_secret(webhook["name"], ns)
        errors = []
        for obj in objects:
            if self._store.resource(obj["kind"]) is None:
                errors.append(
                    f'resource mapping not found for name: "{obj["metadata"]["name"]}" '
                    f'namespace: "" from "": no matches for kind "{obj["kind"]}" in version '
                    f'"{obj["apiVersion"]}"\nensure CRDs are installed first'
                )
                continue
            self._store.apply(obj)
        if prev is not None:
            keep = {
                (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects
            }
            self.delete([k for k in prev.keys if k not in keep])
            prev.status, prev.description = "superseded", "Superseded by upgrade"
        if hooks and webhook.get("enabled"):
            self._patch_webhook(webhook["name"])
        rel.keys = [
            (o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects
        ]
        rel.manifest = yaml.safe_dump_all(objects, sort_keys=False)
        return errors

    def _check_ownership(self, obj: dict, rel: Release) -> None:
        meta = obj["metadata"]
        current = self._store.get(obj["kind"], meta.get("namespace"), meta["name"])
        if current is None:
            return
        notes = current["metadata"].get("annotations") or {}
        if notes.get("meta.helm.sh/release-name") != rel.name:
            where = f' in namespace "{meta["namespace"]}"' if meta.get("namespace") else ""
            raise HelmError(
                "rendered manifests contain a resource that already exists. Unable to continue "
                f'with install: {obj["kind"]} "{meta["name"]}"{where} exists and cannot be '
                "imported into the current release: invalid ownership metadata; annotation "
                f'validation error: missing key "meta.helm.sh/release-name": must be set to '
                f'"{rel.name}"'
            )

    def _certgen_secret(self, name: str, namespace: str) -> None:
        """The pre-install hook Job (kube-webhook-certgen create) leaves this Secret behind."""
        if self._store.get("Secret", namespace, name) is None:
            data = {"ca": "LS0tLS1CRUdJTi4uLg==", "cert": "LS0tLS1CRUdJTi4uLg==", "key": "LS0tLQ=="}
            self._store.create(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": name, "namespace": namespace},
                    "type": "Opaque",
                    "data": data,
                }
            )

    def _patch_webhook(self, name: str) -> None:
        """The post-install hook Job (certgen patch) sets caBundle and failurePolicy Fail."""

        def patch(obj: dict) -> None:
            for hook in obj.get("webhooks", []):
                hook["clientConfig"]["caBundle"] = "LS0tLS1CRUdJTi4uLg=="
                hook["failurePolicy"] = "Fail"

        if self._store.get("ValidatingWebhookConfiguration", None, name) is not None:
            self._store.patch("ValidatingWebhookConfiguration", None, name, patch)

    def delete(self, keys: list[tuple[str, str | None, str]]) -> None:
        """Delete a release's objects, last installed first (kinds no longer served are skipped)."""
        for kind, namespace, name in reversed(keys):
            if self._store.resource(kind) is None:
                continue
            if self._store.get(kind, namespace, name) is not None:
                self._store.delete(kind, namespace, name)
