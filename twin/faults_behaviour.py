"""The faults of the behaviour layers: how Akri reacts (akri_behaviour) and what a reboot keeps
(recovery). Part of the fault table `twin.faults.FAULTS`."""

from __future__ import annotations

from twin.fault import Fault

BEHAVIOUR_FAULTS = (
    Fault(
        "broker-not-replaced",
        "the controller's watches stall once every broker ran: a deleted broker stays gone",
        "akri_behaviour",
        "test_broker_replaced",
        observed="no new broker pod after its broker",
    ),
    Fault(
        "webhook-admits-invalid",
        "the ValidatingWebhookConfiguration was deleted by hand: Akri's webhook is not asked",
        "akri_behaviour",
        "test_webhook_refuses_unknown_field",
        observed="ValidatingWebhookConfigurations: none",
    ),
    Fault(
        "no-config-cleanup",
        "the agent never acts on a Configuration's deletion: finalizer and Instances stay",
        "akri_behaviour",
        "test_extra_configuration_cleanup",
        observed="deletion completes while an agent runs",
    ),
    Fault(
        "module-not-persisted",
        "systemd-modules-load.service is masked: after the reboot nothing loads v4l2loopback",
        "recovery",
        "test_module_after_reboot",
        observed="v4l2loopback is not back as it was",
    ),
    Fault(
        "feeders-not-persisted",
        "the node resets /etc/systemd/system at boot: after the reboot no feeder unit starts",
        "recovery",
        "test_feeders_after_reboot",
        observed="no live gst-launch-1.0 process writes to it",
    ),
)
