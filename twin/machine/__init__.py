"""The node's operating system: kernel state, packages and files, v4l2loopback devices, udev."""
