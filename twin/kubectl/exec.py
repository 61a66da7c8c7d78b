"""`kubectl exec` on the twin: a command runs in a container only if the container's image has it.

What a container can run is its image's userland. Akri's images (agent, controller, webhook, udev
discovery handler, and the udev-video-broker from Akri core or project-akri/examples) are built
by `Dockerfile.rust`: `FROM scratch`, busybox, and only `sh uniq tail sort grep cut` linked to it
(docs/facts.md#broker-image-userland; akri build/containers/Dockerfile.rust at 604bdcb6), so
there is no `printenv`, `env`, `ls` or `cat`. Other images are taken to have a Debian userland
with coreutils (the streaming app is python:3.11-slim-bookworm, docs/facts.md#sample-images);
the facts name no other image, so that is an assumption.

Of those userlands the twin runs what the suite and a person debugging use: coreutils'
`printenv` and `env`, and `sh -c SCRIPT` where SCRIPT is `echo` commands (`;`-separated) with
`$NAME` / `${NAME}` expansions and shell quoting. A program the image lacks fails the way
containerd's runc fails it through kubectl (exit 1; the text as reported with containerd in
nigelpoulton/TheK8sBook#30 and containerd/containerd#3597). A command unknown to `sh` is busybox
ash's `sh: NAME: not found`, status 127. Anything else the image has but the twin does not model
fails loudly, saying so, rather than pretending.
"""

from __future__ import annotations

import posixpath
import re
import secrets

from twin.cluster.microk8s import Cluster, PodUnavailable
from twin.kubeapi.store import ObjectStore
from twin.kubectl.args import Args
from twin.kubectl.get import Failure
from twin.kubectl.target import container_for, pod_for

Result = tuple[int, str, str]
# images built from Akri's Dockerfile.rust; the streaming app is a Python image
RUST_IMAGES = re.compile(r"^ghcr\.io/project-akri/(akri|examples)/(?!video-streaming-app)")
BUSYBOX = frozenset({"sh", "uniq", "tail", "sort", "grep", "cut", "busybox"})
_WORD = re.compile(r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|([^\s'";]+)|(;)|(\s+)""")
_PARAM = re.compile(r'\\([\\"$`])|\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))')


def check_exec_args(args: Args) -> list[str]:
    """The command after `--`; kubectl's usage errors otherwise."""
    command = args.after_dash or []
    if not args.positional:
        raise Failure("error: pod, type/name or --filename must be specified")
    if not command:
        if len(args.positional) > 1:
            raise Failure(
                "error: exec [POD] [COMMAND] is not supported anymore. Use exec "
                "[POD] -- [COMMAND] instead"
            )
        raise Failure("error: you must specify at least one command for the container")
    return command


def exec_command(store: ObjectStore, cluster: Cluster, args: Args) -> Result:
    """`kubectl exec [-n NS] [-c C] TARGET -- COMMAND...`."""
    command = check_exec_args(args)
    pod, notes = pod_for(store, args, args.positional[0])
    container, note = container_for(args, pod, None)
    meta = pod["metadata"]
    try:
        env = cluster.pod_env(meta["namespace"], meta["name"], container)
    except PodUnavailable as exc:
        if exc.reason == "NotFound":
            raise Failure(f"Error from server (NotFound): {exc}") from exc
        raise Failure(f"error: unable to upgrade connection: {exc}") from exc
    spec = next(c for c in pod["spec"]["containers"] if c["name"] == container)
    return exec_in_container(spec.get("image", ""), env, command, notes + note)


def has_busybox_only(image: str) -> bool:
    """True for images built from Akri's Dockerfile.rust (busybox, six commands)."""
    return bool(RUST_IMAGES.match(image))


def exec_in_container(image: str, env: dict[str, str], command: list[str], notes: str) -> Result:
    """Run `command` in a running container of `image` whose processes see `env`."""
    program, rest = posixpath.basename(command[0]), command[1:]
    minimal = has_busybox_only(image)
    if (minimal and program not in BUSYBOX) or (not minimal and program == "busybox"):
        exec_id = secrets.token_hex(32)
        raise Failure(
            "error: Internal error occurred: error executing command in container: failed to "
            f'exec in container: failed to start exec "{exec_id}": OCI runtime exec failed: '
            "exec failed: unable to start container process: exec: "
            f'"{command[0]}": executable file not found in $PATH: unknown'
        )
    if program == "sh" and rest[:1] == ["-c"] and len(rest) >= 2:
        code, out, err = _sh(rest[1], env, minimal)
    elif program == "printenv" and not minimal:
        code, out, err = _printenv(rest, env)
    elif program == "env" and not minimal and not rest:
        code, out, err = 0, "".join(f"{k}={v}\n" for k, v in env.items()), ""
    else:
        raise Failure(f"twin: `{' '.join(command)}` is in the image but not modelled by the twin")
    if code:
        err += f"command terminated with exit code {code}\n"
    return code, out, notes + err


def _printenv(names: list[str], env: dict[str, str]) -> Result:
    if not names:
        return 0, "".join(f"{k}={v}\n" for k, v in env.items()), ""
    values = [env[name] + "\n" for name in names if name in env]
    return (0 if len(values) == len(names) else 1), "".join(values), ""


def _sh(script: str, env: dict[str, str], minimal: bool) -> Result:
    """`sh -c` of echo commands; anything else the shell could run is not modelled."""
    commands: list[list[str]] = [[]]
    word: list[str] | None = None
    covered = 0
    for m in _WORD.finditer(script):
        covered += len(m.group(0))
        if m.group(4) or m.group(5):  # `;` or blanks end a word
            if word is not None:
                commands[-1].append("".join(word))
            word = None
            if m.group(4):
                commands.append([])
            continue
        quoted = m.group(2) if m.group(2) is not None else m.group(3)
        piece = m.group(1) if m.group(1) is not None else _expand(quoted, env)
        word = [*(word or []), piece]
    if word is not None:
        commands[-1].append("".join(word))
    if covered != len(script):
        raise Failure(f"twin: `sh -c {script!r}`: this shell syntax is not modelled by the twin")
    out = []
    for words in (c for c in commands if c):
        if words[0] == "echo" and words[1:2] not in (["-n"], ["-e"]):
            out.append(" ".join(words[1:]) + "\n")
        elif words[0] in BUSYBOX or not minimal:
            raise Failure(f"twin: `sh -c {script!r}` is not modelled by the twin")
        else:  # busybox ash's message for a command it cannot find
            return 127, "".join(out), f"sh: {words[0]}: not found\n"
    return 0, "".join(out), ""


def _expand(text: str, env: dict[str, str]) -> str:
    """Parameter expansion; a backslash keeps a following backslash, quote, $ or ` literal."""
    return _PARAM.sub(lambda m: m.group(1) or env.get(m.group(2) or m.group(3), ""), text)
