#!/usr/bin/env bash
# The nightly's conformance step: the suite on a fresh GCE VM for one matrix cell.
#
# nightly.yml runs it as `exec bash .github/scripts/conformance.sh`, and it ends in `exec`: the
# step's shell becomes this script, then pytest, in one process. That matters on a cancel or a
# timeout: the runner signals the step's own process only (SIGINT, SIGTERM 7.5 s later, and
# 2.5 s after that it kills the process tree). A bash in between would hold the SIGINT until its
# child ends and die on the SIGTERM, so pytest would never see a signal and its VM would outlive
# the job; pytest itself turns either signal into the suite's teardown, which deletes the VM.
# selftests/test_workflow_cancel.py runs this step the way the runner does, against a fake
# Compute API, and checks the DELETE arrives before the kill.
#
# Reads: GCP_PROJECT, GCE_ZONE, IMAGE_FAMILY, MICROK8S_CHANNEL, AKRI_CHART, KEEP, and the
# optional AKRI_VERSION, GCE_NETWORK, GCE_MACHINE_TYPE (empty: the suite's defaults) and
# COMPARE_WITH (the previous scheduled run's reports of this cell, from previous-reports.sh).
set -euo pipefail
optional=()
if [ -n "${AKRI_VERSION:-}" ]; then optional+=(--akri-version "$AKRI_VERSION"); fi
if [ -n "${GCE_NETWORK:-}" ]; then optional+=(--gce-network "$GCE_NETWORK"); fi
if [ -n "${GCE_MACHINE_TYPE:-}" ]; then optional+=(--gce-machine-type "$GCE_MACHINE_TYPE"); fi
if [ -n "${COMPARE_WITH:-}" ]; then optional+=(--compare-with="$COMPARE_WITH"); fi
exec python3 -m pytest -k akri --target gce \
  --gce-project "$GCP_PROJECT" \
  --gce-zone "$GCE_ZONE" \
  --gce-image-family "$IMAGE_FAMILY" \
  --microk8s-channel "$MICROK8S_CHANNEL" \
  --akri-chart "$AKRI_CHART" \
  --keep "$KEEP" \
  --reports-dir=reports \
  "${optional[@]}"
