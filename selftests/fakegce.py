"""A fake Compute Engine REST API on 127.0.0.1 for the gce target's self-tests (stdlib only).

It serves the calls the suite makes (as google-cloud-compute 1.57.0 sends them: image from family,
instance insert, get, list with a label filter, delete, guest attributes, zone operations and their
`wait`), records every request, and checks each insert body the way GCE would (names, label syntax,
one boot disk with a source image, an external access config, unique metadata keys): a bad body is a
400 and lands in `rejections`. Failure modes: a name already taken (409), quota (403), stock-out (an
operation DONE with ZONE_RESOURCE_POOL_EXHAUSTED), one 429 or 503 before success, a delete that
leaves the instance behind. Instances answer with `nat_ip` (loopback by default). With a
`GuestAgent` it also plays the VM's guest agent: the `ssh-keys` metadata keys go into an
authorized_keys file (kept there, as the agent does across reboots) and the host key is published as
guest attributes `hostkeys/`.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from selftests.fakegce_routes import PREFIX, Request, handler

NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
MODES = ("quota", "stockout", "rate-limit-once", "unavailable-once", "undeletable")


@dataclass
class GuestAgent:
    """What the VM's guest agent does: install metadata ssh keys, publish the host key."""

    authorized_keys: Path
    host_key: str  # "ssh-ed25519 AAAA..."
    publish_host_key: bool = True  # False: an image whose agent publishes no host keys
    keys: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def install(self, ssh_keys: str) -> None:
        """Take the `user:key` lines of the metadata and keep them authorized."""
        self.keys = [line.split(":", 1)[1] for line in ssh_keys.splitlines() if ":" in line]
        self.ensure()
        threading.Thread(target=self._keep, name="fake-guest-agent", daemon=True).start()

    def ensure(self) -> None:
        """Append any key missing from the file (the node's sshd rewrites it on a reboot)."""
        with contextlib.suppress(FileNotFoundError):
            text = self.authorized_keys.read_text()
            missing = [k for k in self.keys if k.strip() not in text]
            if missing:
                with self.authorized_keys.open("a") as f:
                    f.write("".join(k.strip() + "\n" for k in missing))

    def _keep(self) -> None:
        while not self.stop.wait(0.2):
            self.ensure()

    def attributes(self) -> list[dict[str, str]]:
        """The guest attributes under hostkeys/."""
        kind, b64 = self.host_key.split()[:2]
        return [{"namespace": "hostkeys", "key": kind, "value": b64}]


class FakeCompute:
    """The fake API: start it, point `--gce-api-endpoint` at `url`, read `requests` after."""

    def __init__(
        self,
        *,
        modes: tuple[str, ...] = (),
        nat_ip: str = "127.0.0.1",
        agent: GuestAgent | None = None,
        op_polls: int = 1,
    ) -> None:
        unknown = set(modes) - set(MODES)
        if unknown:
            raise ValueError(f"unknown fake modes {unknown}; known: {MODES}")
        self.modes = set(modes)
        self.nat_ip = nat_ip
        self.agent = agent
        self.op_polls = op_polls
        self.requests: list[Request] = []
        self.rejections: list[str] = []
        self.instances: dict[tuple[str, str, str], dict] = {}
        self.operations: dict[str, dict] = {}
        self.by_request_id: dict[str, dict] = {}
        self.lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # -- test-facing API --------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The endpoint to pass as --gce-api-endpoint."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def seed(self, zone: str, name: str, labels: dict[str, str], project: str = "p-test") -> None:
        """An instance that exists before the run (someone else's, or an old run's)."""
        self.instances[(project, zone, name)] = self._instance(project, zone, name, labels, {})

    def calls(self, method: str, suffix: str = "") -> list[Request]:
        """Recorded requests with this method whose path ends with suffix."""
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(suffix)]

    def names(self, zone: str | None = None) -> list[str]:
        """Names of the instances that exist now."""
        with self.lock:
            return sorted(n for (_p, z, n) in self.instances if zone in (None, z))

    def start(self) -> FakeCompute:
        """Serve on a free loopback port."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fakegce", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving (and stop the guest agent)."""
        if self.agent is not None:
            self.agent.stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeCompute:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- resources ---------------------------------------------------------------------------
    def _instance(self, project: str, zone: str, name: str, labels: dict, body: dict) -> dict:
        link = f"https://www.googleapis.com{PREFIX}{project}/zones/{zone}/instances/{name}"
        return {
            "kind": "compute#instance",
            "name": name,
            "zone": zone,
            "status": "PROVISIONING" if body else "RUNNING",
            "labels": labels,
            "metadata": body.get("metadata", {}),
            "selfLink": link,
            "networkInterfaces": [
                {
                    "networkIP": "10.128.0.7",  # data only: nothing connects to it
                    "accessConfigs": [
                        {"type": "ONE_TO_ONE_NAT", "name": "External NAT", "natIP": self.nat_ip}
                    ],
                }
            ],
        }

    def _operation(self, project: str, zone: str, kind: str, target: str, **extra: Any) -> dict:
        name = f"operation-{next(self._ids)}-{kind}"
        op = {
            "kind": "compute#operation",
            "name": name,
            "zone": zone,
            "operationType": kind,
            "status": "RUNNING",
            "targetLink": target,
            "selfLink": f"https://www.googleapis.com{PREFIX}{project}/zones/{zone}/operations/{name}",
            "_polls": self.op_polls,
            "_key": (project, zone, target.rsplit("/", 1)[-1]),
            **extra,
        }
        self.operations[name] = op
        return op

    def _advance(self, op: dict) -> None:
        """One wait/get: an operation finishes after op_polls polls, then takes effect."""
        if op["status"] == "DONE":
            return
        if op["_polls"] > 0:
            op["_polls"] -= 1
            return
        op["status"] = "DONE"
        key = op["_key"]
        if op["operationType"] == "insert":
            if "stockout" in self.modes:
                self.instances.pop(key, None)
                op.update(
                    httpErrorStatusCode=503,
                    httpErrorMessage="SERVICE UNAVAILABLE",
                    error={
                        "errors": [
                            {
                                "code": "ZONE_RESOURCE_POOL_EXHAUSTED",
                                "message": f"The zone 'projects/{key[0]}/zones/{key[1]}' does "
                                "not have enough resources available to fulfill the request.",
                            }
                        ]
                    },
                )
            elif key in self.instances:
                self.instances[key]["status"] = "RUNNING"
                metadata = self.instances[key]["metadata"].get("items", [])
                ssh = next((i["value"] for i in metadata if i["key"] == "ssh-keys"), "")
                if self.agent is not None and ssh:
                    self.agent.install(ssh)
        elif op["operationType"] == "delete" and "undeletable" not in self.modes:
            self.instances.pop(key, None)

    # -- insert body checks ------------------------------------------------------------------
    def check_insert(self, zone: str, body: dict) -> list[str]:
        """What GCE would refuse in an insert body (an empty list: acceptable)."""
        problems = []
        if not NAME.fullmatch(body.get("name", "")):
            problems.append(f"name {body.get('name')!r} is not RFC 1035")
        if not re.fullmatch(rf"zones/{zone}/machineTypes/[a-z0-9-]+", body.get("machineType", "")):
            problems.append(f"machineType {body.get('machineType')!r}")
        labels = body.get("labels", {})
        for key, value in labels.items():
            if not LABEL_KEY.fullmatch(key) or not LABEL_VALUE.fullmatch(str(value)):
                problems.append(f"label {key}={value!r}")
        boots = [d for d in body.get("disks", []) if d.get("boot")]
        if len(boots) != 1 or not boots[0].get("initializeParams", {}).get("sourceImage"):
            problems.append("exactly one boot disk with initializeParams.sourceImage")
        nics = body.get("networkInterfaces", [])
        configs = nics[0].get("accessConfigs", []) if nics else []
        if not configs or configs[0].get("type") != "ONE_TO_ONE_NAT":
            problems.append("networkInterfaces[0].accessConfigs[0].type ONE_TO_ONE_NAT")
        keys = [i.get("key") for i in body.get("metadata", {}).get("items", [])]
        if len(keys) != len(set(keys)):
            problems.append(f"duplicate metadata keys {keys}")
        return problems
