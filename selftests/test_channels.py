"""The MicroK8s channel check before a gce run creates anything: the store's answer, or none.

The store's `channel-map` shape is the Snap Store info endpoint's
(docs/facts.md#microk8s-install); an unreachable store leaves only the form check.
"""

from __future__ import annotations

import logging

from fixtures.targets import channels


def _entry(track: str, risk: str, architecture: str = "amd64") -> dict:
    return {"channel": {"track": track, "risk": risk, "architecture": architecture}}


INFO = {
    "name": "microk8s",
    "channel-map": [
        *(_entry(t, "stable") for t in ("1.33", "1.34", "1.35", "1.36", "latest")),
        _entry("1.36", "edge"),
        _entry("1.37", "stable", "arm64"),
    ],
}


def test_offered_channels_are_the_amd64_ones():
    offered = channels.offered_channels(INFO)
    assert "1.36/stable" in offered and "1.36/edge" in offered
    assert "1.37/stable" not in offered


def test_a_listed_channel_passes_and_an_unlisted_one_is_refused_naming_the_tracks():
    offered = channels.offered_channels(INFO)
    assert channels.channel_problem("1.34/stable", offered) is None
    problem = channels.channel_problem("1.37/stable", offered)
    assert problem is not None
    assert "refused before creating anything" in problem
    assert "1.33, 1.34, 1.35, 1.36, latest" in problem


def test_an_unreachable_store_cannot_tell_and_says_so(caplog):
    caplog.set_level(logging.WARNING, logger="akri.targets")
    # a port nothing listens on: the connection is refused at once
    assert channels.store_channels("http://127.0.0.1:9/v2/snaps/info/microk8s", 2) is None
    assert "cannot tell whether the Snap Store offers" in caplog.text
