"""A page as real headless Chromium left it: its DOM after the scripts ran, as a tree to query.

`dump_dom` loads a file in Debian's `chromium` (installed by .ci/setup) from a file URL, at a
laptop's window width, and returns `--dump-dom`'s serialization (scripts run, images decoded,
layout done). `parse_dom` turns that HTML into an ElementTree, so a self-test asks what the
page shows with ElementTree's paths (`.//tr[@class='test']`) and `text` (what a reader sees of
an element, whitespace collapsed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1300,2000",
)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def dump_dom(page: Path, profile: Path) -> str:
    """The page's DOM, serialized, once its load event ran (up to 10 s of virtual time)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash .ci/setup` (Debian package chromium)")
    proc = subprocess.Popen(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        dom, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # Chromium's helpers share its process group
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return dom


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = ET.Element("document")
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = ET.SubElement(self.stack[-1], tag, {k: v or "" for k, v in attrs})
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ET.SubElement(self.stack[-1], tag, {k: v or "" for k, v in attrs})

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        parent = self.stack[-1]
        if len(parent):
            parent[-1].tail = (parent[-1].tail or "") + data
        else:
            parent.text = (parent.text or "") + data


def parse_dom(dom: str) -> ET.Element:
    """Chromium's serialized DOM as a tree (its root holds the `html` element)."""
    builder = _TreeBuilder()
    builder.feed(dom)
    builder.close()
    return builder.root


def text(element: ET.Element | None) -> str:
    """What a reader sees of an element: its text, whitespace collapsed."""
    return " ".join("".join(element.itertext()).split()) if element is not None else ""
