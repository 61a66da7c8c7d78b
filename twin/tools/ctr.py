"""The image registries as the node's containerd sees them: `microk8s ctr image pull`.

`microk8s ctr` is containerd's client in the `k8s.io` namespace, the one the kubelet uses
(docs/facts.md#microk8s-containerd), so an image pulled with it is there for a pod with
`imagePullPolicy: IfNotPresent`. What the registries hold follows docs/facts.md#sample-images:
project-akri/examples pushes `v<version>-dev` on every push to main (version.txt is 0.13.21 at
`57eab4f5`), `pr-N` for pull requests, `v<semver>` only on releases (none yet), and no
`latest`/`latest-dev`. Whether other images still pull today has not been checked (the same
section says so), so they pull. Errors read as containerd words them (pull.go wraps the
resolver's error in `failed to resolve reference`; a registry 404 is `<ref>: not found`). Fault
`app-image-missing`: the registry has no manifest for the streaming app's tag (never pushed or
removed, docs/facts.md#sample-images).
"""

from __future__ import annotations

import re

from twin.tools.base import Answer

APP_REPOSITORY = re.compile(r"/video-streaming-app:[^/]+$")
EXAMPLES = "ghcr.io/project-akri/examples/"
EXAMPLES_VERSION = (0, 13, 21)
_DEV_TAG = re.compile(r"v(\d+)\.(\d+)\.(\d+)-dev")


def exists(ref: str, faults: frozenset[str]) -> bool:
    """Whether the registry serves a manifest for `ref` (fully qualified)."""
    if "app-image-missing" in faults and APP_REPOSITORY.search(ref):
        return False
    if not ref.startswith(EXAMPLES):
        return True
    tag = ref.rpartition(":")[2]
    dev = _DEV_TAG.fullmatch(tag)
    if dev:
        return tuple(int(n) for n in dev.groups()) <= EXAMPLES_VERSION
    return re.fullmatch(r"pr-\d+", tag) is not None


def ctr(argv: list[str], faults: frozenset[str], running: bool) -> Answer:
    """`microk8s ctr image pull <ref>`; the other ctr commands are not modelled (and say so)."""
    if argv[:2] != ["image", "pull"] or len(argv) != 3:
        return Answer(1, "", f"ctr: the twin models only 'ctr image pull REF', not {argv}\n")
    ref = argv[2]
    if not running:
        return Answer(
            1,
            "",
            'ctr: failed to dial "/var/snap/microk8s/common/run/containerd.sock": '
            'connection error: desc = "transport: error while dialing: dial unix '
            '/var/snap/microk8s/common/run/containerd.sock: connect: connection refused"\n',
        )
    host = ref.partition("/")[0]
    if "/" not in ref or ("." not in host and ":" not in host and host != "localhost"):
        # ctr, unlike the kubelet, does not complete short names with docker.io
        return Answer(1, "", f'ctr: failed to resolve reference "{ref}": object required\n')
    if not exists(ref, faults):
        # containerd's resolver turns the registry's 404 (MANIFEST_UNKNOWN) into "not found"
        return Answer(1, "", f'ctr: failed to resolve reference "{ref}": {ref}: not found\n')
    # The success output's exact progress lines are not in the facts; the exit code is.
    return Answer(0, f"{ref}: resolved\nunpacking linux/amd64 sha256:{'0' * 64}...\ndone\n")
