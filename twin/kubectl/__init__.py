"""The `microk8s kubectl` model: kubectl's commands, output formats and errors."""
