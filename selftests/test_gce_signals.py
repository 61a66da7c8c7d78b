"""SIGTERM, SIGHUP or Ctrl-C in the middle of a gce run still delete the VM, promptly.

The unit test checks the handler itself (raise, shield, restore). The run tests start the suite
against the fake Compute API with an SSH port that never answers and a long --ssh-timeout, wait
until it is trying to reach the VM, send the signal, and check that the run ends interrupted
within seconds and that the fake saw the DELETE.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from fixtures.record.interrupt import GUARD
from fixtures.targets.gce.signals import InterruptOnSignal
from selftests.fakegce import FakeCompute, GuestAgent
from selftests.gce_support import blackhole, finished, start_gce
from twin.sshd import generate_ed25519


def test_signals_raise_keyboard_interrupt_unless_shielded_and_are_restored(monkeypatch):
    # The handler notes each signal in the session-wide GUARD; this session is not interrupted.
    monkeypatch.setattr(GUARD, "received", None)
    monkeypatch.setattr(GUARD, "at", None)
    before = signal.getsignal(signal.SIGTERM)
    with InterruptOnSignal() as guard:
        with pytest.raises(KeyboardInterrupt, match="SIGTERM received"):
            os.kill(os.getpid(), signal.SIGTERM)  # the handler runs before the next bytecode
        with guard.shielded():
            os.kill(os.getpid(), signal.SIGHUP)
            os.kill(os.getpid(), signal.SIGINT)
        assert guard.received == ["SIGTERM", "SIGHUP", "SIGINT"]
    assert signal.getsignal(signal.SIGTERM) is before


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name
)
def test_signal_mid_run_deletes_the_vm(tmp_path, sig):
    # Host keys published at once, so the run goes straight to (never-answering) SSH.
    host_key = generate_ed25519(tmp_path / "host_key", "")
    agent = GuestAgent(tmp_path / "authorized_keys", host_key)
    with blackhole() as (port, attempts), FakeCompute(agent=agent) as fake:
        proc = start_gce(fake, tmp_path / "run", port, "-k", "target", "--ssh-timeout=120")
        try:
            deadline = time.monotonic() + 90
            while not attempts and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert attempts, f"the run never tried SSH: {proc.poll()}"
            assert fake.names(), "the VM exists when the signal comes"
            sent = time.monotonic()
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
            seconds = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        deletes = fake.calls("DELETE")
        left = fake.names()
    run = finished(proc.returncode, out, err, seconds, tmp_path / "run")
    assert run.returncode == pytest.ExitCode.INTERRUPTED, out[-3000:] + err[-2000:]
    assert len(deletes) == 1 and left == [], out[-3000:]
    assert run.seconds < 20, run.seconds
    assert run.temp_leftovers == []
