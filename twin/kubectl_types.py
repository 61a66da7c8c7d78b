"""How kubectl names resource types: plural, singular, short names, `plural.group`, categories.

Built-in kinds carry kubectl's short names (po, svc, deploy, ds, rs, no, ns, ep, ev, cm, sa,
crd); custom kinds are read from the stored CRDs (Akri: configurations/configuration/akric,
instances/instance/akrii), so they resolve exactly while their CRD exists, like API discovery.
Also the text of kubectl's errors and object references (`deployment.apps/web`).
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.store import ObjectStore

CRD_KIND = "CustomResourceDefinition"
_BUILTIN: dict[str, tuple[str, ...]] = {
    "Pod": ("po",),
    "Service": ("svc",),
    "Deployment": ("deploy",),
    "DaemonSet": ("ds",),
    "ReplicaSet": ("rs",),
    "Job": (),
    "Node": ("no",),
    "Namespace": ("ns",),
    "Endpoints": ("ep",),
    "Event": ("ev",),
    "ConfigMap": ("cm",),
    "Secret": (),
    "ServiceAccount": ("sa",),
    "ClusterRole": (),
    "ClusterRoleBinding": (),
    "Role": (),
    "RoleBinding": (),
    "ValidatingWebhookConfiguration": (),
    CRD_KIND: ("crd", "crds"),
}
#: what `kubectl get all` lists among the built-in kinds, in kubectl's order
ALL_CATEGORY = ("Pod", "Service", "DaemonSet", "Deployment", "ReplicaSet", "Job")


@dataclass(frozen=True)
class KType:
    """One resource type as kubectl knows it."""

    kind: str
    plural: str
    singular: str
    group: str
    version: str
    namespaced: bool
    short: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        """`deployments.apps`, `pods`: the name used in server error messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def ref(self) -> str:
        """`deployment.apps`, `pod`: the prefix of `-o name` and apply/delete output."""
        return f"{self.singular}.{self.group}" if self.group else self.singular

    def names(self) -> set[str]:
        """Every spelling that selects this type."""
        return {self.plural, self.singular, self.kind.lower(), *self.short}


class UnknownType(LookupError):
    """The server does not serve this resource type."""


def known_types(store: ObjectStore) -> list[KType]:
    """Built-in types plus the custom types served through CRDs right now."""
    found = []
    for kind, short in _BUILTIN.items():
        res = store.resource(kind)
        if res is not None:
            cats = ("all",) if kind in ALL_CATEGORY else ()
            found.append(
                KType(
                    kind,
                    res.plural,
                    kind.lower(),
                    res.group,
                    res.version,
                    res.namespaced,
                    short,
                    cats,
                )
            )
    for crd in store.list(CRD_KIND)[0]:
        names = crd["spec"].get("names") or {}
        res = store.resource(names.get("kind", ""))
        if res is None:
            continue
        found.append(
            KType(
                res.kind,
                res.plural,
                names.get("singular") or res.kind.lower(),
                res.group,
                res.version,
                res.namespaced,
                tuple(names.get("shortNames") or ()),
                tuple(names.get("categories") or ()),
            )
        )
    return found


def resolve(store: ObjectStore, name: str) -> KType:
    """The type kubectl means by `name` (pods, po, deployments.apps, akric, ...)."""
    wanted = name.lower()
    base, _, group = wanted.partition(".")
    if group.startswith("v") and "." in group and group.split(".", 1)[0][1:2].isdigit():
        group = group.split(".", 1)[1]  # deployments.v1.apps
    for ktype in known_types(store):
        if base in ktype.names() and (not group or group == ktype.group):
            return ktype
    raise UnknownType(f'error: the server doesn\'t have a resource type "{name}"')


def not_found(ktype: KType, name: str) -> str:
    """The server's NotFound error line as kubectl prints it."""
    return f'Error from server (NotFound): {ktype.qualified} "{name}" not found'


def crd_for(store: ObjectStore, ktype: KType) -> dict | None:
    """The CRD object behind a custom type (None for built-in types)."""
    if ktype.kind in _BUILTIN:
        return None
    return store.get(CRD_KIND, None, f"{ktype.plural}.{ktype.group}")
