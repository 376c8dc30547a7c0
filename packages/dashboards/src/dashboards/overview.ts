import { errorRatio, latencyQueries, rate, type DashboardSpec } from '../builders.js';

const http = 'service=~"$service"';
const grpc = 'service=~"$service", cell=~"$cell"';
// Server-side failures; client errors (INVALID_ARGUMENT, NOT_FOUND, …) are the caller's.
const grpcFailed =
  'grpc_code=~"UNKNOWN|DEADLINE_EXCEEDED|UNIMPLEMENTED|INTERNAL|UNAVAILABLE|DATA_LOSS"';

export const overview: DashboardSpec = {
  uid: 'bulkhead-overview',
  title: 'Bulkhead / Overview',
  description:
    'Golden signals of every service and cell: traffic, errors, latency and saturation of the HTTP and gRPC edges.',
  variables: [
    { name: 'service', label: 'Service', metric: 'process_cpu_seconds_total' },
    { name: 'cell', label: 'Cell', metric: 'grpc_server_handling_seconds_count' },
  ],
  panels: [
    {
      title: 'HTTP requests by route',
      description: 'Requests per second at the HTTP edges (gateway, control-plane admin API).',
      unit: 'reqps',
      queries: [
        {
          expr: rate('http_server_request_duration_seconds_count', http, 'service, route'),
          legend: '{{service}} {{route}}',
        },
      ],
    },
    {
      title: 'HTTP 5xx ratio',
      description: 'Share of HTTP responses with a 5xx status.',
      unit: 'percentunit',
      queries: [
        {
          expr: errorRatio('http_server_request_duration_seconds', http, 'code=~"5.."', 'service'),
          legend: '{{service}}',
        },
      ],
    },
    {
      title: 'HTTP latency p50 / p99',
      description: 'Request duration quantiles per service.',
      unit: 's',
      queries: latencyQueries(
        'http_server_request_duration_seconds',
        http,
        'service',
        '{{service}}',
      ),
    },
    {
      title: 'gRPC calls served by service and cell',
      description: 'Calls per second handled by every gRPC server (health checks excluded).',
      unit: 'reqps',
      queries: [
        {
          expr: rate('grpc_server_handling_seconds_count', grpc, 'service, cell'),
          legend: '{{service}} {{cell}}',
        },
      ],
    },
    {
      title: 'gRPC server failure ratio',
      description:
        'Share of calls ending UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE or DATA_LOSS.',
      unit: 'percentunit',
      queries: [
        {
          expr: errorRatio('grpc_server_handling_seconds', grpc, grpcFailed, 'service, cell'),
          legend: '{{service}} {{cell}}',
        },
      ],
    },
    {
      title: 'gRPC server latency p50 / p99',
      description: 'Handling time quantiles per service and cell.',
      unit: 's',
      queries: latencyQueries(
        'grpc_server_handling_seconds',
        grpc,
        'service, cell',
        '{{service}} {{cell}}',
      ),
    },
    {
      title: 'Admission saturation by cell',
      description: "Requests in flight over the gateway's adaptive limit, per cell (1 = full).",
      unit: 'percentunit',
      queries: [
        {
          expr: 'sum by (cell) (admission_inflight{cell=~"$cell"}) / sum by (cell) (admission_limit{cell=~"$cell"})',
          legend: '{{cell}}',
        },
      ],
    },
    {
      title: 'Event-loop delay p99',
      description: 'How long ready work waits for the Node event loop, per process.',
      unit: 's',
      queries: [
        {
          expr: 'max by (service, cell) (nodejs_eventloop_lag_p99_seconds{service=~"$service", cell=~"$cell"})',
          legend: '{{service}} {{cell}}',
        },
      ],
    },
    {
      title: 'SLO error-budget burn rate (5 m and 1 h)',
      description:
        'Error ratio of each SLO over the error budget its objective leaves (the recording rules in charts/bulkhead/files/prometheus/rules/slos.yml): 1 spends the 30-day budget in 30 days; the fast-burn page fires above 14.4 over both windows.',
      unit: 'none',
      width: 24,
      queries: ['5m', '1h'].map((window) => ({
        expr: `slo:sli_error:ratio_rate${window}{cell=~"$cell"} / on (slo) group_left () slo:error_budget:ratio`,
        legend: `${window} {{slo}} {{cell}}`,
      })),
    },
  ],
};
