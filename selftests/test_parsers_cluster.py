"""Parsers of the cluster side: `microk8s status`, `snap list`, the apiserver's arguments, and
Helm's JSON (releases, a release's values as `--set` paths, the repository list)."""

import pytest

from fixtures.node import parsers as p

MICROK8S_YAML = """microk8s:
  running: True
high-availability:
  enabled: False
addons:
  - name: dns
    repository: core
    description: CoreDNS
    version: 1.13.1
    status: enabled
  - name: dashboard
    repository: core
    description: The Kubernetes dashboard
    version: 7.10.0
    status: disabled
"""

SNAP_LIST = """Name      Version   Rev    Tracking       Publisher   Notes
core20    20240111  2182   latest/stable  canonical✓  base
microk8s  v1.34.2   8391   1.34/stable    canonical✓  classic,held
snapd     2.61.2    21759  latest/stable  canonical**  snapd
"""

HELM_JSON = (
    '[{"name":"akri","namespace":"default","revision":"1","updated":"2026-06-01 10:00:00",'
    '"status":"deployed","chart":"akri-0.13.8","app_version":"0.13.8"}]\n'
)

VALUES_JSON = """{"udev": {"configuration": {"enabled": true, "name": "akri-udev-video",
"discoveryDetails": {"udevRules": ["KERNEL==\\"video[0-9]*\\""]}}}}"""


def test_helm_values_as_set_paths() -> None:
    assert p.helm_values(VALUES_JSON) == {
        "udev.configuration.enabled": True,
        "udev.configuration.name": "akri-udev-video",
        "udev.configuration.discoveryDetails.udevRules[0]": 'KERNEL=="video[0-9]*"',
    }
    assert p.helm_values("null\n") == {}


def test_helm_repos() -> None:
    text = '[{"name": "akri-helm-charts", "url": "https://project-akri.github.io/akri/"}]\n'
    assert p.helm_repos(text) == {"akri-helm-charts": "https://project-akri.github.io/akri/"}
    assert p.helm_repos("") == {}


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (p.helm_values, "Error: release: not found\n"),
        (p.helm_repos, "Error: no repositories to show\n"),
    ],
)
def test_malformed_helm_output_raises_parse_error(parser, text: str) -> None:
    with pytest.raises(p.ParseError):
        parser(text)


def test_microk8s_status_yaml() -> None:
    warning = "WARNING: IPtables FORWARD policy is DROP. Consider: sudo iptables -P FORWARD\n"
    status = p.microk8s_status(warning + MICROK8S_YAML + warning)
    assert status.running is True and status.message is None
    assert status.addons == {"dns": "enabled", "dashboard": "disabled"}
    assert status.high_availability is False
    down = p.microk8s_status(
        "microk8s:\n  running: False\n"
        "  message: microk8s is not running. Use microk8s inspect for a deeper inspection.\n"
    )
    assert down.running is False and down.message.startswith("microk8s is not running")
    assert down.addons == {} and down.high_availability is None


def test_snap_list() -> None:
    snaps = p.snap_list(SNAP_LIST)
    assert snaps["microk8s"] == p.SnapEntry(
        "microk8s", "v1.34.2", "8391", "1.34/stable", "canonical", ["classic", "held"]
    )
    assert snaps["snapd"].publisher == "canonical"
    assert p.snap_list("error: no matching snaps installed\n") == {}


def test_apiserver_args() -> None:
    text = (
        "# managed by microk8s\n--secure-port=16443\n"
        "--service-cluster-ip-range=10.152.183.0/24\n--allow-privileged=true\n"
        "--authorization-mode=RBAC,Node\n--service-account-issuer='https://kubernetes.default.svc'\n"
        "--profiling \n--v 2\n\n"
    )
    args = p.apiserver_args(text)
    assert args["--allow-privileged"] == "true"
    assert args["--authorization-mode"] == "RBAC,Node"
    assert args["--service-account-issuer"] == "https://kubernetes.default.svc"
    assert args["--profiling"] == "true" and args["--v"] == "2" and len(args) == 7


def test_helm_list() -> None:
    noisy = "WARNING: Kubernetes configuration file is group-readable.\n" + HELM_JSON
    (rel,) = p.helm_list(noisy)
    assert rel == p.HelmRelease("akri", "default", 1, "deployed", "akri-0.13.8", "0.13.8")
    assert p.helm_list("[]\n") == []
