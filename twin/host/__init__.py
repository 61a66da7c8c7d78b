"""The host and its front door: the per-boot PID namespace, the shims' socket, boots and reboots."""
