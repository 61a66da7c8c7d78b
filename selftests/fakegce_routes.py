"""The fake Compute Engine API's routes: each request the suite sends, answered as GCE answers it.

`handler(fake)` is the HTTP request handler class of one `selftests.fakegce.FakeCompute`.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from selftests.fakegce import FakeCompute

PREFIX = "/compute/v1/projects/"
FAMILIES = ("ubuntu-2404-lts-amd64", "ubuntu-2204-lts")


@dataclass
class Request:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic)


def _error(code: int, reason: str, message: str) -> tuple[int, dict]:
    status = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}.get(code, "")
    return code, {
        "error": {
            "code": code,
            "message": message,
            "status": status,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
        }
    }


def _public(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _filtered(instances: list[dict], expression: str) -> list[dict] | None:
    """The GCE filter forms the suite uses: `labels.K = "V"` and `labels.K:*`; None if other."""
    if not expression:
        return instances
    if m := re.fullmatch(r'labels\.([a-z0-9_-]+)\s*=\s*"?([a-z0-9_-]*)"?', expression.strip()):
        return [i for i in instances if i.get("labels", {}).get(m[1]) == m[2]]
    if m := re.fullmatch(r"labels\.([a-z0-9_-]+):\*", expression.strip()):
        return [i for i in instances if m[1] in i.get("labels", {})]
    return None


def _route(fake: FakeCompute, method: str, path: str, query: dict, body: Any) -> tuple[int, Any]:
    if not path.startswith(PREFIX):
        return _error(404, "notFound", f"no route {path}")
    parts = path[len(PREFIX) :].split("/")
    project = parts[0]
    if parts[1:4] == ["global", "images", "family"] and method == "GET":
        family = parts[4]
        if family not in FAMILIES:
            return _error(
                404,
                "notFound",
                f"The resource 'projects/{project}/global/images/family/{family}' was not found",
            )
        name = f"{family}-v20261101"
        return 200, {
            "kind": "compute#image",
            "name": name,
            "family": family,
            "status": "READY",
            "selfLink": f"https://www.googleapis.com{PREFIX}{project}/global/images/{name}",
        }
    if len(parts) < 4 or parts[1] != "zones":
        return _error(404, "notFound", f"no route {path}")
    zone, collection, rest = parts[2], parts[3], parts[4:]
    if collection == "operations" and rest:
        op = fake.operations.get(rest[0])
        if op is None:
            return _error(404, "notFound", f"operation {rest[0]} not found")
        fake._advance(op)
        return 200, _public(op)
    if collection != "instances":
        return _error(404, "notFound", f"no route {path}")
    if not rest and method == "POST":
        return _insert(fake, project, zone, query, body)
    if not rest and method == "GET":
        here = [i for (p, z, _n), i in fake.instances.items() if (p, z) == (project, zone)]
        items = _filtered(here, query.get("filter", ""))
        if items is None:
            return _error(400, "invalid", f"Invalid value for field 'filter': {query['filter']!r}")
        return 200, {"kind": "compute#instanceList", "items": items}
    key = (project, zone, rest[0])
    if key not in fake.instances:
        return _error(
            404,
            "notFound",
            f"The resource 'projects/{project}/zones/{zone}/instances/{rest[0]}' was not found",
        )
    instance = fake.instances[key]
    if rest[1:] == ["getGuestAttributes"]:
        agent = fake.agent
        if agent is None or not agent.publish_host_key or instance["status"] != "RUNNING":
            return _error(404, "notFound", "The resource guest attributes was not found")
        return 200, {
            "kind": "compute#guestAttributes",
            "queryPath": query.get("queryPath", ""),
            "queryValue": {"items": agent.attributes()},
        }
    if method == "DELETE" and len(rest) == 1:
        instance["status"] = "STOPPING"
        return 200, _public(fake._operation(project, zone, "delete", instance["selfLink"]))
    if method == "GET" and len(rest) == 1:
        return 200, instance
    return _error(404, "notFound", f"no route {method} {path}")


def _insert(fake: FakeCompute, project: str, zone: str, query: dict, body: dict) -> tuple[int, Any]:
    for mode, code, reason in (
        ("rate-limit-once", 429, "rateLimitExceeded"),
        ("unavailable-once", 503, "backendError"),
    ):
        if mode in fake.modes:
            fake.modes.discard(mode)
            return _error(code, reason, f"{reason}: try again later")
    request_id = query.get("requestId")
    if request_id and request_id in fake.by_request_id:
        return 200, _public(fake.by_request_id[request_id])  # GCE: a retried insert is a no-op
    problems = fake.check_insert(zone, body)
    if problems:
        fake.rejections.extend(problems)
        return _error(400, "invalid", "Invalid value: " + "; ".join(problems))
    name = body["name"]
    if (project, zone, name) in fake.instances:
        return _error(
            409,
            "alreadyExists",
            f"The resource 'projects/{project}/zones/{zone}/instances/{name}' already exists",
        )
    if "quota" in fake.modes:
        return _error(
            403,
            "quotaExceeded",
            f"Quota 'CPUS' exceeded.  Limit: 8.0 in region {zone.rsplit('-', 1)[0]}.",
        )
    instance = fake._instance(project, zone, name, body.get("labels", {}), body)
    fake.instances[(project, zone, name)] = instance
    op = fake._operation(project, zone, "insert", instance["selfLink"])
    if request_id:
        fake.by_request_id[request_id] = op
    return 200, _public(op)


def handler(fake: FakeCompute) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            with fake.lock:
                fake.requests.append(
                    Request(self.command, url.path, query, body, dict(self.headers.items()))
                )
                code, answer = _route(fake, self.command, url.path, query, body)
            data = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _handle

    return Handler
