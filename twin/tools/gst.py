"""The GStreamer command-line tools: the real binaries, once their packages are "installed".

`gst-launch-1.0` with a `v4l2sink` is a feeder started from a shell (the Akri documentation's `sudo
gst-launch-1.0 ... &`, docs/facts.md#feeder-pipeline): the real gst runs as the shell's own child,
with its sink redirected to the daemon (`twin.feeders.pipeline`, `twin.host.rpc`), and `ps` shows
the pipeline as typed. A missing device fails as gst does. With the `no-jpegenc` fault every
GStreamer tool and unit runs without the jpeg plugin (`plugin_env`).
"""

from __future__ import annotations

import glob
from pathlib import Path

from twin.feeders.pipeline import FeederError, missing_device_lines, redirect_sink
from twin.tools.base import Answer, Call, not_found, tool

GST_TOOLS = {
    "gst-launch-1.0": "/usr/bin/gst-launch-1.0",
    "gst-inspect-1.0": "/usr/bin/gst-inspect-1.0",
}


#: the plugin the `no-jpegenc` fault leaves out: jpegenc and jpegdec (gstreamer1.0-plugins-good)
JPEG_PLUGIN = "libgstjpeg.so"


def plugin_env(state_dir: Path, faults: frozenset[str]) -> dict[str, str]:
    """The GStreamer environment of the node's processes: {} unless a plugin is broken.

    A plugin that fails to load (e.g. a library it links is missing) is left out of the
    registry, so its elements do not exist although its package is installed. The twin models
    that by giving GStreamer a plugin directory without the jpeg plugin, and its own registry.
    What breaks the plugin on a real node is not in the facts (a question for them).
    """
    if "no-jpegenc" not in faults:
        return {}
    plugins = state_dir / "gst-plugins"
    if not plugins.is_dir():
        plugins.mkdir()
        for path in glob.glob("/usr/lib/*/gstreamer-1.0/*.so"):
            if Path(path).name != JPEG_PLUGIN:
                (plugins / Path(path).name).symlink_to(path)
    return {
        "GST_PLUGIN_SYSTEM_PATH_1_0": str(plugins),
        "GST_REGISTRY_1_0": str(state_dir / "gst-registry-no-jpeg.bin"),
    }


@tool(*GST_TOOLS)
def gstreamer_tool(daemon, call: Call) -> Answer:
    """The real tool (through `env` when the node's GStreamer environment differs)."""
    if not daemon.node.installed("gstreamer1.0-tools"):
        return not_found(call.tool)
    env = [f"{k}={v}" for k, v in daemon.gst_env().items()]
    real = [*(["/usr/bin/env", *env] if env else []), GST_TOOLS[call.tool]]
    # as a real host shows a feeder started with sudo (docs/facts.md#feeder-pipeline)
    shown = [GST_TOOLS[call.tool], *call.argv]
    if call.tool == "gst-launch-1.0" and any(a.split()[:1] == ["v4l2sink"] for a in call.argv):
        try:
            redirect = redirect_sink(shown)
        except FeederError:
            return Answer(exec=[*real, *call.argv])
        if daemon.node.device(redirect.devnode) is None:
            element = f"/GstPipeline:pipeline0/GstV4l2Sink:{redirect.sink_name}"
            lines = missing_device_lines(element, redirect.devnode)
            return Answer(255, "".join(line + "\n" for line in lines))
        return Answer(exec=[*real, *redirect.argv[1:]], frames=shown)
    return Answer(exec=[*real, *call.argv])
