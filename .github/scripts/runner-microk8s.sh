#!/usr/bin/env bash
# The runner nightly's MicroK8s, installed as Akri's own CI installs it on GitHub's runners
# (docs/facts.md#disk-pressure): the snap on MICROK8S_CHANNEL, ready, then the kubelet's hard
# eviction thresholds lowered for the runner's 14 GB disk (a stock MicroK8s evicts at 1 GiB
# free, and the node turns DiskPressure) and the kubelet restarted, ready again. The suite's
# install plan then finds MicroK8s on the channel it asks for and goes on from there.
#
# Reads: MICROK8S_CHANNEL. Runs as the runner user, with sudo.
set -euo pipefail
ARGS=/var/snap/microk8s/current/args/kubelet
EVICTION='--eviction-hard="memory.available<25Mi,nodefs.available<50Mi,imagefs.available<50Mi"'
sudo snap install microk8s --classic --channel="$MICROK8S_CHANNEL"
sudo microk8s status --wait-ready --timeout 600
if sudo grep -q '^--eviction-hard=' "$ARGS"; then
  sudo sed -i "s|^--eviction-hard=.*|${EVICTION}|" "$ARGS"
else
  echo "$EVICTION" | sudo tee -a "$ARGS" > /dev/null
fi
sudo grep -H '^--eviction-hard=' "$ARGS"
sudo systemctl restart snap.microk8s.daemon-kubelite
# bounded: --wait-ready polls every 2 s and exits 1 when the timeout passes
sudo microk8s status --wait-ready --timeout 600
df -h / | tail -n 1
