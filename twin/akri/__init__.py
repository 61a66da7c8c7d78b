"""Akri on the node: the agent and udev discovery, the controller, device plugins, brokers."""
