"""The command-line tools the twin models (apt-get, modprobe, snap, microk8s, ...), by family."""
