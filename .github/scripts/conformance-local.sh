#!/usr/bin/env bash
# The runner nightly's conformance step: the suite with `--target local` on this GitHub-hosted
# runner (no cloud account, no secret). It runs as root (the install plan installs packages and
# loads the module), keeps the environment (the job summary file, the setup-python interpreter
# on PATH) and ends in `exec`, so a cancel's signals reach pytest through sudo (see
# conformance.sh). On the local target the plan never reboots the machine it runs on.
#
# Reads: MICROK8S_CHANNEL, AKRI_CHART, and the optional AKRI_VERSION (empty: the suite's default).
set -euo pipefail
optional=()
if [ -n "${AKRI_VERSION:-}" ]; then optional+=(--akri-version "$AKRI_VERSION"); fi
exec sudo -E env "PATH=$PATH" python3 -m pytest -k akri --target local \
  --microk8s-channel "$MICROK8S_CHANNEL" \
  --akri-chart "$AKRI_CHART" \
  --reports-dir=reports \
  "${optional[@]}"
