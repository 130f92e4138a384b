#!/bin/bash
# Interleaved A/B of the metrics cost: RINGBOLT_METRICS=on/off, alternating
# processes, disk (4 KiB random read, 32 in flight) and echo (64 B x 64).
set -eu
cd "$(dirname "$0")/.."
mkdir -p target/metrics-ab
for i in 1 2 3 4 5; do
  for m in on off; do
    RINGBOLT_METRICS=$m cargo bench -q --bench disk -- --workload randread-4k-buffered --inflight 32 --contender ringbolt-uring --rounds 1 --duration 2 --json target/metrics-ab/disk_${m}_$i.json >/dev/null 2>&1
    RINGBOLT_METRICS=$m cargo bench -q --bench net -- --quick --contenders ringbolt --connections 64 --json target/metrics-ab/net_${m}_$i.json >/dev/null 2>&1
  done
done
echo done
