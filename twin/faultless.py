"""The conformance tests that no faithful twin fault can make fail first, and why (re-exported by
`twin.faults`, whose self-test holds every other test to a fault of its own)."""

from __future__ import annotations

#: Conformance tests that no faithful fault can make fail first, and why (each is a question
#: for the facts: a real node state that breaks only this check would earn it a fault).
WITHOUT_FAULT: dict[str, str] = {
    "test_broker_env": (
        "the agent derives a broker's UDEV_DEVNODE_<HASH> from the very Instance the broker "
        "claims (agent device_plugin_instance_controller.rs cdi_device_to_car), and the real "
        "broker panics without it (udev-video-broker main.rs): a wrong claim fails "
        "test_broker_resources first and a missing variable fails test_brokers_running first"
    ),
    "test_devices_after_reboot": (
        "v4l2loopback makes its devices, numbered and labelled from its parameters, as it loads "
        "(v4l2loopback.c): once test_module_after_reboot passes, the devices are back as they were"
    ),
    **{
        test: (
            f"after a reboot only what the host did not persist is lost (module-not-persisted, "
            f"feeders-not-persisted fail first); {why}, as layer {layer} checked before the reboot"
        )
        for test, layer, why in (
            ("test_microk8s_after_reboot", 40, "snapd starts MicroK8s at boot (an enabled snap)"),
            ("test_akri_after_reboot", 50, "the kubelet restarts every Akri pod"),
            ("test_instances_after_reboot", 60, "the agent re-applies its Instances"),
            ("test_brokers_after_reboot", 60, "the controller re-creates their brokers"),
            ("test_services_after_reboot", 60, "services follow the Running brokers"),
            ("test_live_after_reboot", 70, "the app's pod restarts and lists the services anew"),
        )
    },
}
