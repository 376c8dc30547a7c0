#!/usr/bin/env bash
# The CMD of bulkhead-local/kafka: a single-node KRaft broker from config/server.properties
# (or the file given as $1), its storage formatted on first start with CLUSTER_ID (else a random
# id). Later starts skip the format: `format --ignore-formatted` with another id than the one
# on disk fails (Kafka 4.1 checks it), so a random id must not be offered twice.
# The public apache/kafka image's CMD also turns KAFKA_* variables into properties; this one
# does not: give a config file instead.
set -euo pipefail
bin=$(dirname "${BASH_SOURCE[0]}")
config=${1:-$bin/../config/server.properties}
if ! "$bin/kafka-storage.sh" info -c "$config" >/dev/null 2>&1; then
  cluster_id=${CLUSTER_ID:-$("$bin/kafka-storage.sh" random-uuid)}
  "$bin/kafka-storage.sh" format --ignore-formatted -t "$cluster_id" -c "$config" --standalone
fi
exec "$bin/kafka-server-start.sh" "$config"
