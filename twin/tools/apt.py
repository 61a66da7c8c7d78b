"""Package tools: apt-get, apt, apt-cache policy and dpkg-query over the twin's catalogue.

The catalogue is the platform's (Ubuntu 24.04 or 26.04, `twin.machine.platform`) for the
packages the demo needs (docs/facts.md#v4l2loopback-minimum-version,
docs/facts.md#feeder-pipeline, docs/facts.md#ubuntu-2604); faults change it (`no-v4l2loopback`
removes the module package, `old-v4l2loopback` offers 0.12.3).
"""

from __future__ import annotations

import re

from twin.machine.platform import Platform
from twin.tools.base import Answer, Call, tool

ROUTINE_UPGRADES = {
    "openssl": "3.0.13-0ubuntu3.5",
    "libssl3t64": "3.0.13-0ubuntu3.5",
    "tzdata": "2025b-0ubuntu0.24.04.1",
}


def catalogue(daemon) -> dict[str, str]:
    """Package name -> candidate version, for the running kernel."""
    kernel, platform = daemon.node.state.kernel, daemon.node.platform
    packages = {
        "dkms": "3.0.11-1ubuntu13",
        "v4l-utils": "1.26.1-4build3",
        f"linux-headers-{kernel}": Platform.package_version(kernel),
        "v4l2loopback-dkms": platform.v4l2loopback_dkms,
        **platform.gstreamer,
    }
    if platform.extras_package:
        packages[f"linux-modules-extra-{kernel}"] = Platform.package_version(kernel)
    if "old-v4l2loopback" in daemon.faults:
        packages["v4l2loopback-dkms"] = "0.12.3-1"
    if "no-v4l2loopback" in daemon.faults:
        del packages["v4l2loopback-dkms"]
    return packages


def upgradable(daemon) -> dict[str, str]:
    """Packages an upgrade would change (a kernel with `reboot-required`)."""
    if daemon.node.state.upgraded:
        return {}
    pending = dict(ROUTINE_UPGRADES)
    if "reboot-required" in daemon.faults:
        pending["linux-image-gcp"] = Platform.package_version(daemon.node.platform.upgraded_kernel)
    return pending


# `gstreamer-unmet-deps`: the mirror has plugins-good of a newer base than it serves (a
# partial sync or a stale PPA), so apt refuses the install as it does on such a node
UNMET = (
    "The following packages have unmet dependencies:\n"
    " gstreamer1.0-plugins-good : Depends: libgstreamer-plugins-base1.0-0 (>= 1.24.2-1ubuntu0.3)"
    " but 1.24.2-1ubuntu0.2 is to be installed\n"
)


def _install(daemon, names: list[str]) -> Answer:
    node = daemon.node
    known = catalogue(daemon)
    good = "gstreamer1.0-plugins-good"
    if (
        "gstreamer-unmet-deps" in daemon.faults
        and good in names
        and good not in node.state.packages
    ):
        return Answer(
            100,
            "Reading package lists...\nBuilding dependency tree...\n"
            "Reading state information...\nSome packages could not be installed.\n" + UNMET,
            "E: Unable to correct problems, you have held broken packages.\n",
        )
    missing = [n for n in names if n not in known]
    if missing:
        return Answer(
            100,
            "Reading package lists...\nBuilding dependency tree...\n",
            f"E: Unable to locate package {missing[0]}\n",
        )
    new = [n for n in names if n not in node.state.packages]
    if "v4l2loopback-dkms" in new:
        new.append("dkms")
    out = [
        "Reading package lists...",
        "Building dependency tree...",
        "Reading state information...",
    ]
    for name in names:
        if name not in new:
            out.append(f"{name} is already the newest version ({known[name]}).")
    for name in dict.fromkeys(new):
        node.state.packages[name] = known[name]
        out.append(f"Setting up {name} ({known[name]}) ...")
        if name == "v4l2loopback-dkms":
            out.append(f"Building for {' '.join(node.state.kernels)}")
            out.append("Building initial module for " + node.state.kernel)
            out.append("Done.")
    out.append(
        f"0 upgraded, {len(set(new))} newly installed, 0 to remove and "
        f"{len(upgradable(daemon))} not upgraded."
    )
    return Answer(0, "\n".join(out) + "\n")


def _upgrade(daemon, simulate: bool) -> Answer:
    pending, platform = upgradable(daemon), daemon.node.platform
    suite = f"Ubuntu:{platform.version_id}/{platform.codename}-updates"
    if simulate:
        lines = [
            f"Inst {name} [old] ({version} {suite} [amd64])" for name, version in pending.items()
        ]
        return Answer(0, "".join(line + "\n" for line in lines))
    node = daemon.node
    for name, version in pending.items():
        node.state.packages[name] = version
    node.state.upgraded = True
    if "linux-image-gcp" in pending:
        node.state.kernels.append(platform.upgraded_kernel)
        node.run_file("reboot-required", "*** System restart required ***\n")
        node.run_file("reboot-required.pkgs", f"linux-image-{platform.upgraded_kernel}\n")
    return Answer(
        0, f"{len(pending)} upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"
    )


@tool("apt-get", "apt")
def apt_get(daemon, call: Call) -> Answer:
    """apt-get [-y] [-q] [-s] [-o X=Y] update|upgrade|dist-upgrade|install PKG..."""
    words, simulate, skip = [], False, False
    for arg in call.argv:
        if skip:
            skip = False
        elif arg == "-o":
            skip = True
        elif arg in ("-s", "--simulate", "--dry-run"):
            simulate = True
        elif not arg.startswith("-"):
            words.append(arg)
    if not words:
        return Answer(100, "", "E: Invalid operation\n")
    verb, names = words[0], words[1:]
    with daemon.node.lock:
        if verb == "update":
            return Answer(
                0,
                f"Hit:1 http://archive.ubuntu.com/ubuntu {daemon.node.platform.codename} "
                "InRelease\n"
                "Reading package lists...\n",
            )
        if verb in ("upgrade", "dist-upgrade", "full-upgrade"):
            return _upgrade(daemon, simulate)
        if verb == "install":
            return _install(daemon, names)
    return Answer(100, "", f"E: Invalid operation {verb}\n")


@tool("apt-cache")
def apt_cache(daemon, call: Call) -> Answer:
    """apt-cache policy PKG...: nothing for a package no source offers (exit 0, as apt does)."""
    if call.argv[:1] != ["policy"]:
        return Answer(100, "", "E: the twin models apt-cache policy only\n")
    known, out = catalogue(daemon), []
    codename = daemon.node.platform.codename
    for name in call.argv[1:]:
        if name in known:
            installed = daemon.node.installed(name) or "(none)"
            out.append(
                f"{name}:\n  Installed: {installed}\n  Candidate: {known[name]}\n"
                f"  Version table:\n     {known[name]} 500\n        500 "
                f"http://archive.ubuntu.com/ubuntu {codename}-updates/main amd64 Packages\n"
            )
    return Answer(0, "".join(out))


def _render(fmt: str, name: str, version: str | None) -> str:
    values = {
        "Package": name,
        "Version": version or "",
        "Status": "install ok installed" if version else "unknown ok not-installed",
        "db:Status-Abbrev": "ii " if version else "un ",
    }
    text = re.sub(r"\$\{([^}]+)\}", lambda m: values.get(m.group(1).split(";")[0], ""), fmt)
    return text.replace("\\n", "\n").replace("\\t", "\t")


@tool("dpkg-query")
def dpkg_query(daemon, call: Call) -> Answer:
    """dpkg-query -W [-f=FORMAT] PACKAGE..."""
    fmt, names, argv = "${Package}\t${Version}\n", [], list(call.argv)
    while argv:
        arg = argv.pop(0)
        if arg in ("-f", "--showformat"):
            fmt = argv.pop(0)
        elif arg.startswith(("-f=", "--showformat=")):
            fmt = arg.split("=", 1)[1]
        elif not arg.startswith("-"):
            names.append(arg)
    out, err, rc = [], [], 0
    for name in names:
        version = daemon.node.installed(name)
        if version is None:
            err.append(f"dpkg-query: no packages found matching {name}\n")
            rc = 1
            continue
        out.append(_render(fmt, name, version))
    return Answer(rc, "".join(out), "".join(err))
