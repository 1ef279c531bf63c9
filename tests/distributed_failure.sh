#!/bin/bash
# Runs distributed_failure_worker MODE on 2 ranks and checks that the job ends within TIMEOUT
# seconds, unsuccessfully, with a message that names the failed rank.
#   distributed_failure.sh MPIRUN WORKER MODE TIMEOUT PATTERN
set -u
mpirun=$1 worker=$2 mode=$3 limit=$4 pattern=$5
started=$SECONDS
output=$(timeout --kill-after=5 "$limit" "$mpirun" --allow-run-as-root --oversubscribe --bind-to none -np 2 \
  "$worker" "$mode" 2>&1)
status=$?
echo "$output"
# mpirun's own status may be 137 for a killed rank: the clock tells a hang apart.
if (( SECONDS - started >= limit )); then
  echo "FAILED: the job was still running after ${limit} s (a rank hung)"
  exit 1
fi
if [ "$status" -eq 0 ]; then
  echo "FAILED: the job succeeded although rank 1 failed"
  exit 1
fi
if ! grep -Eq "$pattern" <<<"$output"; then
  echo "FAILED: no message matching '$pattern' names the failed rank"
  exit 1
fi
echo "the job ended with status $status and named the failed rank"
