"""The twin's `microk8s kubectl`: kubectl's commands, output and errors over the object store.

`Kubectl.run(argv, stdin)` takes kubectl's arguments (without "kubectl") and returns (exit code,
stdout, stderr) as kubectl 1.34 would print them against a MicroK8s node: `apply|create|delete
-f`, `get`, `describe`, `delete`, `logs`, `exec` (`twin.kubectl.exec`), `wait`, `rollout status`,
`scale`, `version`, `cluster-info`, `config view`. Server errors read like the API server's
(`Error from server (NotFound): pods "x" not found`, exit 1). While MicroK8s is stopped every
server command fails the way kubectl does when the API server refuses connections.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import yaml

from twin.cluster.microk8s import Cluster, PodUnavailable
from twin.cluster.objects import APISERVER_PORT, KUBE_VERSION
from twin.kubeapi.store import Conflict, ObjectStore
from twin.kubectl.apply import ManifestRunner, read_documents
from twin.kubectl.args import Args, UsageError, parse
from twin.kubectl.exec import exec_command
from twin.kubectl.get import Failure, delete, describe_cmd, find, get
from twin.kubectl.resources import UnknownType
from twin.kubectl.target import container_for, pod_for
from twin.kubectl.wait import Waiter, rollout_command, wait_command

Result = tuple[int, str, str]
SERVER = f"127.0.0.1:{APISERVER_PORT}"
REFUSED = (
    f"The connection to the server {SERVER} was refused - did you specify the right host or port?\n"
)
_MAJOR, _MINOR = KUBE_VERSION[1:].split(".")[:2]
VERSION_INFO = {
    "major": _MAJOR,
    "minor": _MINOR,
    "gitVersion": KUBE_VERSION,
    "gitCommit": "d86d8b2ea1eb2d1a1ad0f6d1d4a3e3b7c7a5c0f1",
    "gitTreeState": "clean",
    "buildDate": "2025-11-11T20:00:00Z",
    "goVersion": "go1.24.9",
    "compiler": "gc",
    "platform": "linux/amd64",
}
KUSTOMIZE_VERSION = "v5.7.1"
_OFFLINE = {"version", "config", ""}


class Kubectl:
    """kubectl against the twin's store and cluster model."""

    def __init__(self, store: ObjectStore, cluster: Cluster) -> None:
        self.store = store
        self.cluster = cluster
        #: returns the kubeconfig text `config view` shows (None: an empty config)
        self.kubeconfig: Callable[[], str] | None = None
        self._waiter = Waiter(store)
        self._commands: dict[str, Callable[[Args, bytes], Result]] = {
            "apply": self._apply,
            "create": self._create,
            "get": self._get,
            "describe": self._describe,
            "delete": self._delete,
            "logs": self._logs,
            "exec": self._exec,
            "wait": self._wait,
            "rollout": self._rollout,
            "scale": self._scale,
            "version": self._version,
            "config": self._config,
            "cluster-info": self._cluster_info,
        }

    def close(self) -> None:
        """Release commands blocked in `wait` or `rollout status` (twin shutdown)."""
        self._waiter.close()

    def run(self, argv: list[str], stdin: bytes = b"") -> Result:
        """Run one kubectl command line."""
        try:
            args = parse(argv)
            handler = self._commands.get(args.command)
            if handler is None:
                if not args.command:
                    return 0, "kubectl controls the Kubernetes cluster manager.\n", ""
                return 1, "", f'error: unknown command "{args.command}" for "kubectl"\n'
            offline = args.command in _OFFLINE and (args.command != "version" or args.on("client"))
            if not offline and not self.cluster.is_running():
                return 1, "", REFUSED
            return handler(args, stdin)
        except (UsageError, UnknownType) as exc:
            return 1, "", str(exc) + "\n"
        except Failure as exc:
            return exc.rc, "", exc.message.rstrip("\n") + "\n"

    # --- manifests ---------------------------------------------------------------------------

    def _manifests(self, args: Args, stdin: bytes) -> tuple[ManifestRunner, str, list[dict]]:
        filename = args.get("filename")
        if filename is None:
            raise Failure("error: must specify one of -f and -k")
        try:
            source, docs = read_documents(filename, stdin)
        except ValueError as exc:
            raise Failure(str(exc)) from exc
        dry_run = args.get("dry_run")
        runner = ManifestRunner(
            self.store, args.get("namespace"), None if dry_run in (None, "none") else dry_run
        )
        return runner, source, docs

    def _apply(self, args: Args, stdin: bytes) -> Result:
        runner, source, docs = self._manifests(args, stdin)
        outcome = runner.apply(docs, source)
        return outcome.rc, _lines(outcome.out), _lines(outcome.err)

    def _create(self, args: Args, stdin: bytes) -> Result:
        words = args.positional
        if words[:1] in (["namespace"], ["ns"]) and len(words) == 2:
            try:
                self.store.create(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": words[1]}}
                )
            except Conflict:
                return (
                    1,
                    "",
                    (
                        f'Error from server (AlreadyExists): namespaces "{words[1]}" '
                        "already exists\n"
                    ),
                )
            return 0, f"namespace/{words[1]} created\n", ""
        runner, source, docs = self._manifests(args, stdin)
        outcome = runner.apply(docs, source, create_only=True)
        return outcome.rc, _lines(outcome.out), _lines(outcome.err)

    def _delete(self, args: Args, stdin: bytes) -> Result:
        if args.get("filename") is not None:
            runner, source, docs = self._manifests(args, stdin)
            outcome = runner.delete(docs, source, args.on("ignore_not_found"))
            return outcome.rc, _lines(outcome.out), _lines(outcome.err)
        return delete(self.store, args)

    def _get(self, args: Args, stdin: bytes) -> Result:
        return get(self.store, args)

    def _describe(self, args: Args, stdin: bytes) -> Result:
        return describe_cmd(self.store, args)

    # --- pods --------------------------------------------------------------------------------

    def _logs(self, args: Args, stdin: bytes) -> Result:
        ns = args.get("namespace") or "default"
        notes = ""
        if args.get("selector"):
            pods = self.store.list("Pod", ns, args.get("selector"))[0]
            if not pods:
                return 0, "", f"No resources found in {ns} namespace.\n"
            tail = int(args.get("tail") or 10)
        elif args.positional:
            pod, notes = pod_for(self.store, args, args.positional[0])
            pods, tail = [pod], int(args.get("tail") or -1)
        else:
            raise Failure("error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.")
        out = []
        for pod in pods:
            containers = [c["name"] for c in pod["spec"]["containers"]]
            if not args.on("all_containers"):
                name, note = container_for(args, pod, (args.positional[1:] or [None])[0])
                containers, notes = [name], notes + note
            for name in containers:
                try:
                    text = self.cluster.pod_log(
                        ns, pod["metadata"]["name"], name, args.on("previous")
                    )
                except PodUnavailable as exc:
                    return 1, "".join(out), notes + f"Error from server ({exc.reason}): {exc}\n"
                lines = text.splitlines(keepends=True)
                out += lines[-tail:] if tail >= 0 else lines
        return 0, "".join(out), notes

    def _exec(self, args: Args, stdin: bytes) -> Result:
        return exec_command(self.store, self.cluster, args)

    # --- waiting -----------------------------------------------------------------------------

    def _wait(self, args: Args, stdin: bytes) -> Result:
        return wait_command(self.store, self._waiter, args)

    def _rollout(self, args: Args, stdin: bytes) -> Result:
        return rollout_command(self.store, self._waiter, args)

    def _scale(self, args: Args, stdin: bytes) -> Result:
        replicas = args.get("replicas")
        if replicas is None or not replicas.isdigit():
            raise Failure('error: required flag(s) "replicas" not set')
        found = find(self.store, args, args.positional)
        if found.errors:
            raise Failure(found.errors[0])
        out = []
        for ktype, objs in found.groups:
            for obj in objs:
                self.store.patch(
                    ktype.kind,
                    obj["metadata"].get("namespace"),
                    obj["metadata"]["name"],
                    lambda o: o["spec"].__setitem__("replicas", int(replicas)),
                )
                out.append(f"{ktype.ref}/{obj['metadata']['name']} scaled\n")
        return 0, "".join(out), ""

    # --- cluster-level -----------------------------------------------------------------------

    def _version(self, args: Args, stdin: bytes) -> Result:
        data: dict = {"clientVersion": VERSION_INFO, "kustomizeVersion": KUSTOMIZE_VERSION}
        if not args.on("client"):
            data["serverVersion"] = VERSION_INFO
        output = args.get("output")
        if output == "json":
            return 0, json.dumps(data, indent=2) + "\n", ""
        if output == "yaml":
            return 0, yaml.safe_dump(data, sort_keys=False), ""
        text = f"Client Version: {KUBE_VERSION}\nKustomize Version: {KUSTOMIZE_VERSION}\n"
        if not args.on("client"):
            text += f"Server Version: {KUBE_VERSION}\n"
        return 0, text, ""

    def _config(self, args: Args, stdin: bytes) -> Result:
        if args.positional[:1] != ["view"]:
            raise Failure("error: only `config view` is supported")
        text = self.kubeconfig() if self.kubeconfig else ""
        config = (
            yaml.safe_load(text)
            if text
            else {
                "apiVersion": "v1",
                "clusters": None,
                "contexts": None,
                "current-context": "",
                "kind": "Config",
                "preferences": {},
                "users": None,
            }
        )
        if not args.on("raw"):
            for section, key in (("clusters", "cluster"), ("users", "user")):
                for entry in config.get(section) or []:
                    for field in list(entry.get(key) or {}):
                        if field.endswith("-data"):
                            entry[key][field] = "DATA+OMITTED"
                        elif field in ("token", "password"):
                            entry[key][field] = "REDACTED"
        if args.get("output") == "json":
            return 0, json.dumps(config, indent=4) + "\n", ""
        return 0, yaml.safe_dump(config, sort_keys=True), ""

    def _cluster_info(self, args: Args, stdin: bytes) -> Result:
        url = f"https://{SERVER}"
        text = f"Kubernetes control plane is running at {url}\n"
        if self.store.get("Service", "kube-system", "kube-dns") is not None:
            text += (
                f"CoreDNS is running at {url}/api/v1/namespaces/kube-system/services/"
                "kube-dns:dns/proxy\n"
            )
        text += (
            "\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n"
        )
        return 0, text, ""


def _lines(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)
