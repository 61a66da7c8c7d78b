"""How kubectl names resource types: plural, singular, short names, `plural.group`, categories.

kubectl learns them from API discovery, so the twin's kubectl reads them where the twin's API server
publishes them (`twin.kubeapi.kinds`): the built-in kinds' short names (po, svc, deploy, ds, rs, no,
ns, ep, ev, cm, sa, crd) and categories, and the custom kinds the stored CRDs serve (Akri:
configurations/configuration/akric, instances/instance/akrii, the `all` category where the chart's
CRDs declare it), which resolve exactly while their CRD exists. Also the text of kubectl's errors
and object references (`deployment.apps/web`).
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.kubeapi.kinds import CRD, RESOURCES, Resource, crd_resource
from twin.kubeapi.store import ObjectStore


@dataclass(frozen=True)
class KType(Resource):
    """One resource type as kubectl knows it: the served resource and its singular name."""

    singular: str = ""

    @classmethod
    def of(cls, res: Resource, singular: str) -> KType:
        """The type kubectl learns from discovery for a served resource."""
        return cls(**vars(res), singular=singular)

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
        return {self.plural, self.singular, self.kind.lower(), *self.short_names}


class UnknownType(LookupError):
    """The server does not serve this resource type."""


def known_types(store: ObjectStore) -> list[KType]:
    """Built-in types plus the custom types served through CRDs right now, in discovery order."""
    found = [KType.of(res, res.kind.lower()) for res in RESOURCES.values()]
    for crd in store.list(CRD)[0]:
        res = crd_resource(crd)  # kubectl uses the preferred (storage) version
        if res is not None:
            names = crd["spec"].get("names") or {}
            found.append(KType.of(res, names.get("singular") or res.kind.lower()))
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
    if ktype.kind in RESOURCES:
        return None
    return store.get(CRD, None, f"{ktype.plural}.{ktype.group}")
