# shellcheck shell=bash
# Connection settings for the local Bulkhead infra (infra/local/infra.sh).
# Source it: `. infra/local/env.sh`. Prints nothing and sets no shell options.
# Ports can be overridden by exporting the BULKHEAD_*_PORT variables first. They sit below
# Linux's ephemeral range (32768-60999): a port in it can be taken by any outgoing connection
# (or its TIME_WAIT) while the server is down, and the server then fails to bind.

: "${BULKHEAD_PG_PORT:=15432}"
: "${BULKHEAD_REDIS_PORT:=16379}"
: "${BULKHEAD_KAFKA_PORT:=19092}"
: "${BULKHEAD_KAFKA_CONTROLLER_PORT:=19093}"
# make chaos routes cell-1 through toxiproxy (API on BULKHEAD_TOXIPROXY_PORT): PostgreSQL through
# BULKHEAD_PG_PROXY_PORT; Kafka through BULKHEAD_KAFKA_PROXY_PORT, which is what the broker's
# PROXIED listener (bound on BULKHEAD_KAFKA_PROXIED_PORT) advertises, so clients that bootstrap
# through the proxy also reconnect through it.
: "${BULKHEAD_KAFKA_PROXIED_PORT:=19095}"
: "${BULKHEAD_KAFKA_PROXY_PORT:=19094}"
: "${BULKHEAD_PG_PROXY_PORT:=15433}"
: "${BULKHEAD_TOXIPROXY_PORT:=18474}"
export BULKHEAD_PG_PORT BULKHEAD_REDIS_PORT BULKHEAD_KAFKA_PORT BULKHEAD_KAFKA_CONTROLLER_PORT
export BULKHEAD_KAFKA_PROXIED_PORT BULKHEAD_KAFKA_PROXY_PORT BULKHEAD_PG_PROXY_PORT BULKHEAD_TOXIPROXY_PORT

export BULKHEAD_PG_URL="postgres://postgres@127.0.0.1:${BULKHEAD_PG_PORT}"
export BULKHEAD_KAFKA_BROKERS="127.0.0.1:${BULKHEAD_KAFKA_PORT}"
export BULKHEAD_REDIS_URL="redis://127.0.0.1:${BULKHEAD_REDIS_PORT}"

# The observability backends (infra/local/observability.sh): the OpenTelemetry Collector's OTLP
# receiver (where every service sends spans), Jaeger's OTLP receiver (only the collector sends
# there) and query API, Prometheus.
: "${BULKHEAD_OTLP_GRPC_PORT:=4317}"
: "${BULKHEAD_OTLP_HTTP_PORT:=4318}"
: "${BULKHEAD_JAEGER_OTLP_GRPC_PORT:=14317}"
: "${BULKHEAD_JAEGER_OTLP_HTTP_PORT:=14318}"
: "${BULKHEAD_JAEGER_QUERY_PORT:=16686}"
: "${BULKHEAD_JAEGER_QUERY_GRPC_PORT:=16685}"
: "${BULKHEAD_PROMETHEUS_PORT:=9090}"
export BULKHEAD_OTLP_GRPC_PORT BULKHEAD_OTLP_HTTP_PORT BULKHEAD_JAEGER_OTLP_GRPC_PORT BULKHEAD_JAEGER_OTLP_HTTP_PORT
export BULKHEAD_JAEGER_QUERY_PORT BULKHEAD_JAEGER_QUERY_GRPC_PORT BULKHEAD_PROMETHEUS_PORT

export BULKHEAD_OTLP_ENDPOINT="http://127.0.0.1:${BULKHEAD_OTLP_GRPC_PORT}"
export BULKHEAD_JAEGER_URL="http://127.0.0.1:${BULKHEAD_JAEGER_QUERY_PORT}"
export BULKHEAD_PROMETHEUS_URL="http://127.0.0.1:${BULKHEAD_PROMETHEUS_PORT}"
