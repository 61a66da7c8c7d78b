"""The `microk8s helm3` model: flags, values, repositories, releases and their objects."""
