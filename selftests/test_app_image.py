"""Self-tests of the app image pull: the install step's reference and the twin's registry."""

from __future__ import annotations

import pytest

from fixtures.install.steps.cluster import pull_reference
from twin.tools.ctr import ctr

APP = "ghcr.io/project-akri/examples/video-streaming-app"


@pytest.mark.parametrize(
    ("image", "ref"),
    [
        (f"{APP}:v0.13.21-dev", f"{APP}:v0.13.21-dev"),
        ("localhost:5000/app:1", "localhost:5000/app:1"),
        ("me/app:1", "docker.io/me/app:1"),
        ("nginx:1.27", "docker.io/library/nginx:1.27"),
    ],
)
def test_pull_reference_completes_short_names_as_the_cri_does(image: str, ref: str) -> None:
    assert pull_reference(image) == ref


@pytest.mark.parametrize(
    ("tag", "pulls"),
    [
        ("v0.13.21-dev", True),
        ("v0.13.20-dev", True),
        ("pr-8", True),
        ("v0.13.26-dev", False),
        ("latest", False),
        ("latest-dev", False),
        ("v0.13.21", False),
    ],
)
def test_examples_tags_follow_its_workflows(tag: str, pulls: bool) -> None:
    answer = ctr(["image", "pull", f"{APP}:{tag}"], frozenset(), running=True)
    assert (answer.rc == 0) is pulls, answer
    if not pulls:
        ref = f"{APP}:{tag}"
        assert answer.err == f'ctr: failed to resolve reference "{ref}": {ref}: not found\n'


def test_fault_app_image_missing_and_containerd_down() -> None:
    fault = frozenset({"app-image-missing"})
    assert ctr(["image", "pull", f"{APP}:v0.13.21-dev"], fault, running=True).rc == 1
    broker = "ghcr.io/project-akri/examples/udev-video-broker:v0.13.21-dev"
    assert ctr(["image", "pull", broker], fault, running=True).rc == 0
    down = ctr(["image", "pull", broker], frozenset(), running=False)
    assert down.rc == 1 and "connection refused" in down.err
    short = ctr(["image", "pull", "nginx:1"], frozenset(), running=True)
    assert short.rc == 1 and "object required" in short.err
    assert ctr(["images", "ls"], frozenset(), running=True).rc == 1  # not modelled: says so
