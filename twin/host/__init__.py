"""The host's front door: the shims' socket, process trees below sshd, boots and reboots."""
