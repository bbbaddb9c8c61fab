#!/usr/bin/env bash
# Train several configs one after another on one core each lane:  lanes.sh MINUTES CONFIG...
# Each config runs for MINUTES (resuming its own state), logs to runs/<name>.log.
set -u
cd "$(dirname "$0")/../.."
minutes=$1; shift
for cfg in "$@"; do
  name=$(basename "$cfg" .yaml)
  /usr/bin/python3 -m scripts.training.train "$cfg" --minutes "$minutes" >> "runs/$name.log" 2>&1
done
