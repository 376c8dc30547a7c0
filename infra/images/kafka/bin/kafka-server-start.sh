#!/usr/bin/env bash
# Stand-in for Kafka's bin/kafka-server-start.sh: the same defaults (KAFKA_LOG4J_OPTS from
# config/log4j2.yaml, KAFKA_HEAP_OPTS "-Xmx1G -Xms1G", EXTRA_ARGS "-name kafkaServer -loggc",
# -daemon), then kafka-run-class.sh kafka.Kafka CONFIG [--override property=value]...
set -euo pipefail
if (($# < 1)); then
  echo "USAGE: $0 [-daemon] server.properties [--override property=value]*"
  exit 1
fi
base_dir=$(dirname "${BASH_SOURCE[0]}")
if [[ -z ${KAFKA_LOG4J_OPTS:-} ]]; then
  export KAFKA_LOG4J_OPTS="-Dlog4j2.configurationFile=$base_dir/../config/log4j2.yaml"
fi
if [[ -z ${KAFKA_HEAP_OPTS:-} ]]; then
  export KAFKA_HEAP_OPTS="-Xmx1G -Xms1G"
fi
EXTRA_ARGS=${EXTRA_ARGS-'-name kafkaServer -loggc'}
if [[ $1 == -daemon ]]; then
  EXTRA_ARGS="-daemon $EXTRA_ARGS"
  shift
fi
# shellcheck disable=SC2086  # EXTRA_ARGS is a list of flags, as in the real script
exec "$base_dir/kafka-run-class.sh" $EXTRA_ARGS kafka.Kafka "$@"
