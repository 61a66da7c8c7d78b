"""The install plan: step outcomes, stop at the first failure, and idempotency on a real run."""

import pytest

from fixtures.install.plan import InstallPlan, Step, StepContext, StepFailed
from fixtures.install.steps import akri_demo_plan
from fixtures.settings import defaults
from fixtures.targets.twin import twin_host
from twin.lifecycle import Twin


def _step(name, layer, state, fail=False):
    def check(ctx):
        return None if state.get(name) else f"{name} missing"

    def apply(ctx):
        if fail:
            raise StepFailed(f"{name} exploded")
        state[name] = True

    return Step(name, layer, check, apply)


def test_outcomes_and_blocking():
    state = {"a": True}
    steps = [
        _step("a", "v4l2loopback", state),
        _step("b", "v4l2loopback", state),
        _step("c", "gstreamer", state, fail=True),
        _step("d", "microk8s", state),
    ]
    plan = InstallPlan(steps, StepContext(host=None, settings=defaults()))
    assert [r.status for r in plan.run_through("v4l2loopback")] == ["ok", "changed"]
    assert [r.status for r in plan.run_through("gstreamer")] == ["failed"]
    assert plan.run_through("gstreamer")[0].message == "c exploded"
    [blocked] = plan.run_through("microk8s")
    assert blocked.status == "blocked" and "'c' failed" in blocked.message


def test_always_reapplies_done_steps():
    state = {"a": True}
    plan = InstallPlan(
        [_step("a", "v4l2loopback", state)],
        StepContext(host=None, settings=defaults()),
        mode="always",
    )
    [result] = plan.run_through("v4l2loopback")
    assert result.status == "changed"


@pytest.mark.slow
def test_second_run_against_a_prepared_node_changes_nothing():
    settings = defaults(ready_timeout=60.0)
    with Twin() as endpoint:
        host = twin_host(endpoint)
        try:
            first = InstallPlan(akri_demo_plan(), StepContext(host, settings))
            first.run_through("streaming")
            statuses = {r.name: r.status for r in first.results.values()}
            assert set(statuses.values()) <= {"ok", "changed"}, first.results
            assert statuses["v4l2loopback-package"] == "changed"
            second = InstallPlan(akri_demo_plan(), StepContext(host, settings))
            second.run_through("streaming")
            again = {r.name: (r.status, r.message) for r in second.results.values()}
            assert all(status == "ok" for status, _ in again.values()), again
            assert len(again) == len(akri_demo_plan())
        finally:
            host.close()


@pytest.mark.slow
def test_the_local_target_is_never_rebooted_and_says_so():
    """A node that asks for a reboot, as the local target: the plan reports it, goes on."""
    settings = defaults(target="local")
    upgrade, reboot = akri_demo_plan()[:2]
    with Twin(["reboot-required"]) as endpoint:
        host = twin_host(endpoint)
        try:
            boot_id = host.boot_id()
            plan = InstallPlan([upgrade, reboot], StepContext(host, settings))
            results = plan.run_through("v4l2loopback")
            assert host.boot_id() == boot_id, "the machine running the suite was rebooted"
        finally:
            host.close()
    assert [r.status for r in results] == ["changed", "changed"], results
    assert results[1].message.startswith("reboot required by linux-image-"), results[1]
    assert "not done on the local target" in results[1].message
