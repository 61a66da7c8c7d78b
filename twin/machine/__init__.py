"""The node's operating system: kernel, files, packages, processes, v4l2loopback devices, udev."""
