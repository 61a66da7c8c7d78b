"""Self-tests of the twin's `helm`: strvals, repositories, releases, faults.

Hermetic: an in-memory ObjectStore with the `default` namespace, no cluster (so `--wait` can only
time out, which is what its test checks). The expectations come from docs/facts.md's Akri sections;
rendering is tested in test_chart.py.
"""

from __future__ import annotations

import json

import pytest

from selftests.twin.helm_support import (
    DOCS_VALUES,
    REPO,
    RULE,
    install,
)
from twin.helm.cli import Helm
from twin.helm.strvals import StrvalsError, parse_set

# -- strvals ------------------------------------------------------------------------------------


def test_set_keeps_the_udev_rule_and_its_brackets_intact():
    values = parse_set(f"udev.configuration.discoveryDetails.udevRules[0]={RULE}", {})
    assert values == {"udev": {"configuration": {"discoveryDetails": {"udevRules": [RULE]}}}}


def test_set_escaped_comma_stays_inside_the_value():
    text = r'a.rules[0]=KERNEL=="video[0-9]*"\, ENV{ID_V4L_CAPABILITIES}==":capture:",b=2'
    values = parse_set(text, {})
    assert values["a"]["rules"] == ['KERNEL=="video[0-9]*", ENV{ID_V4L_CAPABILITIES}==":capture:"']
    assert values["b"] == 2


def test_set_types_values_like_helm_and_set_string_does_not():
    values = parse_set("t=true,f=FALSE,n=null,i=42,z=0,lead=010,fl=1.5,e=,l={x,y}", {})
    assert values == {
        "t": True, "f": False, "n": None, "i": 42, "z": 0, "lead": "010", "fl": "1.5",
        "e": "", "l": ["x", "y"],
    }  # fmt: skip
    assert parse_set("t=true,i=42", {}, as_string=True) == {"t": "true", "i": "42"}


def test_set_list_indexes_pad_and_nest():
    values = parse_set("a[2].b=x,a[0]=y", {})
    assert values == {"a": ["y", None, {"b": "x"}]}


@pytest.mark.parametrize(
    ("text", "message"),
    [("foo", 'key "foo" has no value'), ("a[-1]=x", "negative -1 index not allowed")],
)
def test_set_errors_carry_helms_message(text, message):
    with pytest.raises(StrvalsError, match=message.replace("[", r"\[")):
        parse_set(text, {})


def test_bad_set_fails_the_install(helm):
    code, _, err = install(helm, "--set", "udev")
    assert code == 1
    assert err == 'Error: INSTALLATION FAILED: failed parsing --set data: key "udev" has no value\n'


# -- repositories and search ------------------------------------------------------------------


def test_old_deislabs_repository_is_refused(store):
    code, _, err = Helm(store).run(
        ["repo", "add", "akri-helm-charts", "https://deislabs.github.io/akri/"]
    )
    assert code == 1
    assert "is not a valid chart repository or cannot be reached" in err
    assert "https://deislabs.github.io/akri/index.yaml : 404 Not Found" in err


def test_repo_list_update_and_search(helm):
    assert json.loads(helm.run(["repo", "list", "-o", "json"])[1]) == [
        {"name": "akri-helm-charts", "url": REPO}
    ]
    assert helm.run(["repo", "add", "akri-helm-charts", REPO])[1].endswith("skipping\n")
    assert "Update Complete" in helm.run(["repo", "update"])[1]
    code, out, _ = helm.run(
        ["search", "repo", "akri-helm-charts/akri-dev", "--versions", "-o", "json"]
    )
    rows = json.loads(out)
    assert code == 0
    assert rows[0] == {
        "name": "akri-helm-charts/akri-dev", "version": "0.13.26", "app_version": "0.13.26",
        "description": "A Helm chart for Akri",
    }  # fmt: skip
    assert len(rows) > 1 and {r["name"] for r in rows} == {"akri-helm-charts/akri-dev"}
    latest = json.loads(helm.run(["search", "repo", "akri-helm-charts/akri", "-o", "json"])[1])
    assert {(r["name"], r["version"]) for r in latest} == {
        ("akri-helm-charts/akri", "0.13.8"),
        ("akri-helm-charts/akri-dev", "0.13.26"),
    }


def test_unknown_chart_and_version_give_helms_errors(helm):
    code, _, err = install(helm, version="9.9.9")
    assert code == 1
    assert err == (
        'Error: INSTALLATION FAILED: chart "akri-dev" matching 9.9.9 not found in '
        "akri-helm-charts index. (try 'helm repo update'): no chart version found for "
        "akri-dev-9.9.9\n"
    )
    assert "no chart name found" in install(helm, chart="akri-nope")[2]
    assert "repo nowhere not found" in helm.run(["install", "akri", "nowhere/akri"])[2]


# -- releases -----------------------------------------------------------------------------------


def test_release_lifecycle(helm, store):
    install(helm, *DOCS_VALUES)
    assert (
        install(helm)[2]
        == "Error: INSTALLATION FAILED: cannot re-use a name that is still in use\n"
    )
    (row,) = json.loads(helm.run(["list", "-o", "json"])[1])
    keys = ("name", "namespace", "revision", "status", "chart", "app_version")
    assert {k: row[k] for k in keys} == {
        "name": "akri", "namespace": "default", "revision": "1", "status": "deployed",
        "chart": "akri-dev-0.13.26", "app_version": "0.13.26",
    }  # fmt: skip
    argv = ["upgrade", "--install", "akri", "akri-helm-charts/akri-dev", "--version", "0.13.26"]
    code, out, _ = helm.run([*argv, *DOCS_VALUES])
    assert code == 0 and 'Release "akri" has been upgraded' in out and "REVISION: 2" in out
    user = json.loads(helm.run(["get", "values", "akri", "-o", "json"])[1])
    assert user["udev"]["configuration"]["name"] == "akri-udev-video"
    assert "STATUS: deployed" in helm.run(["status", "akri"])[1]
    code, out, _ = helm.run(["uninstall", "akri", "--no-hooks", "--wait"])
    assert (code, out) == (0, 'release "akri" uninstalled\n')
    assert store.get("DaemonSet", "default", "akri-agent-daemonset") is None
    assert store.list("Configuration")[0] == []
    # CRDs live in crds/, so uninstall keeps them (docs/facts.md#helm-cleanup-hook).
    assert store.get("CustomResourceDefinition", None, "instances.akri.sh") is not None
    assert "release: not found" in helm.run(["status", "akri"])[2]


def test_upgrade_install_of_a_new_release_installs_it(helm):
    argv = ["upgrade", "--install", "akri", "akri-helm-charts/akri-dev", "--version", "0.13.26"]
    code, out, _ = helm.run([*argv, "-n", "akri", "--create-namespace"])
    assert code == 0
    assert out.startswith('Release "akri" does not exist. Installing it now.\nNAME: akri\n')
    assert "NAMESPACE: akri" in out
    assert "not found" in helm.run([*argv, "-n", "missing"])[2]


def test_no_akri_crds_fault_fails_on_the_configuration_and_keeps_the_rest(store):
    helm = Helm(store, frozenset({"no-akri-crds"}))
    helm.run(["repo", "add", "akri-helm-charts", REPO])
    code, _, err = install(helm, *DOCS_VALUES)
    assert code == 1
    assert err == (
        "Error: INSTALLATION FAILED: unable to build kubernetes objects from release manifest: "
        'resource mapping not found for name: "akri-udev-video" namespace: "" from "": '
        'no matches for kind "Configuration" in version "akri.sh/v0"\n'
        "ensure CRDs are installed first\n"
    )
    assert store.list("CustomResourceDefinition")[0] == []
    assert store.get("DaemonSet", "default", "akri-agent-daemonset") is not None
    assert json.loads(helm.run(["list", "-o", "json"])[1])[0]["status"] == "failed"


def test_wait_times_out_without_a_cluster_and_atomic_rolls_back(helm, store):
    code, _, err = install(helm, "--wait", "--timeout", "300ms")
    assert (code, err) == (1, "Error: INSTALLATION FAILED: context deadline exceeded\n")
    helm.run(["uninstall", "akri"])
    code, _, err = install(helm, "--atomic", "--timeout", "200ms")
    assert code == 1
    assert "has been uninstalled due to atomic being set: context deadline exceeded" in err
    assert store.get("DaemonSet", "default", "akri-agent-daemonset") is None


def test_cli_errors(helm):
    assert helm.run(["install", "--bogus"])[2] == "Error: unknown flag: --bogus\n"
    assert helm.run(["frobnicate"])[2].startswith('Error: unknown command "frobnicate" for "helm"')
    assert helm.run(["version", "--short"])[1].startswith("v3.")
