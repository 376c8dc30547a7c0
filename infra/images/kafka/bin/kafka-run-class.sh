#!/usr/bin/env bash
# Stand-in for Kafka's bin/kafka-run-class.sh in bulkhead-local/kafka: runs
#   java <opts> -cp '/opt/kafka/libs/*' CLASS ARGS...
# honouring the variables the real script honours: JAVA_HOME, CLASSPATH (prepended),
# KAFKA_HEAP_OPTS (default -Xmx256M), KAFKA_JVM_PERFORMANCE_OPTS (default: the real G1 flags),
# KAFKA_GC_LOG_OPTS, KAFKA_JMX_OPTS and JMX_PORT, KAFKA_LOG4J_OPTS (default: tools-log4j2.yaml,
# WARN to stderr), KAFKA_OPTS, LOG_DIR, and the -daemon / -name / -loggc flags.
# One deliberate difference: LOG_DIR defaults to /tmp/kafka/logs (the real one: /opt/kafka/logs),
# so a read-only root filesystem works with only /tmp writable.
set -euo pipefail

if (($# < 1)); then
  echo "USAGE: $0 [-daemon] [-name servicename] [-loggc] classname [opts]"
  exit 1
fi
base_dir=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

CLASSPATH="${CLASSPATH:+$CLASSPATH:}$base_dir/libs/*"
: "${LOG_DIR:=/tmp/kafka/logs}"

if [[ -z ${KAFKA_LOG4J_OPTS:-} ]]; then
  # A tool: log to the console only.
  KAFKA_LOG4J_OPTS="-Dlog4j2.configurationFile=$base_dir/config/tools-log4j2.yaml"
else
  # Like the real script: a server (its start script set KAFKA_LOG4J_OPTS) gets LOG_DIR made.
  mkdir -p "$LOG_DIR"
fi
KAFKA_LOG4J_OPTS="-Dkafka.logs.dir=$LOG_DIR $KAFKA_LOG4J_OPTS"

if [[ -z ${KAFKA_JMX_OPTS:-} ]]; then
  KAFKA_JMX_OPTS="-Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.authenticate=false -Dcom.sun.management.jmxremote.ssl=false"
fi
if [[ -n ${JMX_PORT:-} ]]; then
  KAFKA_JMX_OPTS="$KAFKA_JMX_OPTS -Dcom.sun.management.jmxremote.port=$JMX_PORT"
fi
: "${KAFKA_OPTS:=}"
: "${KAFKA_HEAP_OPTS:=-Xmx256M}"
: "${KAFKA_JVM_PERFORMANCE_OPTS:=-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"

if [[ -n ${JAVA_HOME:-} ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA=java; fi

DAEMON_MODE=false DAEMON_NAME="" GC_LOG_ENABLED=false
while (($# > 0)); do
  case $1 in
    -name) DAEMON_NAME=$2; shift 2 ;;
    -loggc) [[ -n ${KAFKA_GC_LOG_OPTS:-} ]] || GC_LOG_ENABLED=true; shift ;;
    -daemon) DAEMON_MODE=true; shift ;;
    *) break ;;
  esac
done
if [[ $GC_LOG_ENABLED == true ]]; then
  KAFKA_GC_LOG_OPTS="-Xlog:gc*:file=$LOG_DIR/$DAEMON_NAME-gc.log:time,tags:filecount=10,filesize=100M"
fi
: "${KAFKA_GC_LOG_OPTS:=}"

# Word splitting of the *_OPTS variables is intended: each is a list of JVM options.
# shellcheck disable=SC2086
if [[ $DAEMON_MODE == true ]]; then
  nohup "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_GC_LOG_OPTS $KAFKA_JMX_OPTS \
    $KAFKA_LOG4J_OPTS -cp "$CLASSPATH" $KAFKA_OPTS "$@" >"$LOG_DIR/$DAEMON_NAME.out" 2>&1 </dev/null &
else
  exec "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_GC_LOG_OPTS $KAFKA_JMX_OPTS \
    $KAFKA_LOG4J_OPTS -cp "$CLASSPATH" $KAFKA_OPTS "$@"
fi
