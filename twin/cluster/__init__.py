"""The MicroK8s single-node cluster: controllers, kubelet, scheduler, addons, events."""
