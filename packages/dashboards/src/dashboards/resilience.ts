import { rate, type DashboardSpec } from '../builders.js';

const cell = 'cell=~"$cell"';

export const resilience: DashboardSpec = {
  uid: 'bulkhead-resilience',
  title: 'Bulkhead / Resilience',
  description:
    'The protective mechanisms at work: circuit breakers, the gateway admission limits (admitted, shed, limit against in flight), per-tenant rate limiting and cell services shedding at their in-flight bound.',
  variables: [{ name: 'cell', label: 'Cell', metric: 'circuit_breaker_state' }],
  panels: [
    {
      title: 'Circuit breakers by state',
      description: 'How many breakers are closed, half-open and open.',
      unit: 'short',
      queries: [
        {
          expr: 'sum by (state) (circuit_breaker_state{cell=~"$cell"})',
          legend: '{{state}}',
        },
      ],
    },
    {
      title: 'Open breakers by caller, cell and target',
      description: '1 while the breaker from a service towards a target in a cell is open.',
      unit: 'none',
      queries: [
        {
          expr: 'max by (service, cell, target) (circuit_breaker_state{cell=~"$cell", state="open"})',
          legend: '{{service}} → {{target}} {{cell}}',
        },
      ],
    },
    {
      title: 'Admission: admitted and shed',
      description: "Requests per second through the gateway's adaptive limit, per cell and class.",
      unit: 'reqps',
      queries: [
        {
          expr: rate('admission_requests_total', cell, 'cell, class, outcome'),
          legend: '{{outcome}} {{cell}} {{class}}',
        },
      ],
    },
    {
      title: 'Admission limit and in flight',
      description: 'The adaptive limit now, against the requests in flight under it.',
      unit: 'short',
      queries: [
        {
          expr: 'sum by (cell, class) (admission_limit{cell=~"$cell"})',
          legend: 'limit {{cell}} {{class}}',
        },
        {
          expr: 'sum by (cell, class) (admission_inflight{cell=~"$cell"})',
          legend: 'in flight {{cell}} {{class}}',
        },
      ],
    },
    {
      title: 'Rate-limit rejections',
      description: 'Requests refused 429 by the per-tenant rate limit, per route.',
      unit: 'reqps',
      queries: [{ expr: rate('rate_limit_rejections_total', '', 'route'), legend: '{{route}}' }],
    },
    {
      title: 'Server shedding',
      description: 'Calls a cell service refused at its in-flight bound, per method.',
      unit: 'reqps',
      queries: [
        {
          expr: rate('grpc_server_shed_total', cell, 'service, cell, grpc_method'),
          legend: '{{service}} {{cell}} {{grpc_method}}',
        },
      ],
    },
  ],
};
