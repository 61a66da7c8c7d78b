#!/usr/bin/env bash
# The nightly's "what changed" input: this cell's reports from the last completed scheduled run,
# downloaded into previous/, and COMPARE_WITH set for the conformance step (which passes it to
# the suite as --compare-with). Nothing found (the first night, expired artifacts, a new cell)
# is not an error: the summary then has no "Since the earlier run" section.
#
# Reads: GH_TOKEN (the job's token, actions: read), GITHUB_REPOSITORY, GITHUB_RUN_ID, CELL.
set -euo pipefail
runs=$(gh run list --repo "$GITHUB_REPOSITORY" --workflow nightly.yml --event schedule \
  --status completed --limit 10 --json databaseId --jq '.[].databaseId')
for run in $runs; do
  if [ "$run" = "$GITHUB_RUN_ID" ]; then continue; fi
  if gh run download "$run" --repo "$GITHUB_REPOSITORY" --pattern "reports-${CELL}-attempt*" \
    --dir previous 2>/dev/null; then
    latest=$(find previous -mindepth 2 -maxdepth 2 -name junit.xml | sort | tail -n 1)
    if [ -n "$latest" ]; then
      echo "comparing with run $run: $latest"
      echo "COMPARE_WITH=$(dirname "$latest")" >> "$GITHUB_ENV"
      exit 0
    fi
  fi
done
echo "no earlier scheduled run's reports of ${CELL}: nothing to compare with"
