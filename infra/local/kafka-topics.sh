#!/usr/bin/env bash
# kafka-topics for the local broker, from the jars in .tools (no Kafka scripts
# there). Adds --bootstrap-server unless given. Examples:
#   infra/local/kafka-topics.sh --list
#   infra/local/kafka-topics.sh --create --topic orders.v1 --partitions 3
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

args=("$@")
[[ " $* " == *" --bootstrap-server "* ]] || args=(--bootstrap-server "$BULKHEAD_KAFKA_BROKERS" "${args[@]}")
exec java -Xshare:auto -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xmx128m \
  -Dlog4j2.level=WARN -cp "$KAFKA_HOME/libs/*" org.apache.kafka.tools.TopicCommand "${args[@]}"
