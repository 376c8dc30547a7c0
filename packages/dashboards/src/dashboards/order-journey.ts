import { latencyQueries, rate, type DashboardSpec } from '../builders.js';

const cell = 'cell=~"$cell"';

export const orderJourney: DashboardSpec = {
  uid: 'bulkhead-order-journey',
  title: 'Bulkhead / Order journey',
  description:
    'The asynchronous leg of an order: sagas begun and ended (by outcome and reason), how long they take, which are open or stuck, and the outbox that carries their messages.',
  variables: [{ name: 'cell', label: 'Cell', metric: 'saga_started_total' }],
  panels: [
    {
      title: 'Sagas started',
      description: 'Orders accepted per second, per cell.',
      unit: 'ops',
      queries: [{ expr: rate('saga_started_total', cell, 'cell'), legend: '{{cell}}' }],
    },
    {
      title: 'Sagas ended by outcome and reason',
      description:
        'Terminal states per second: completed, or compensated with the rejection reason.',
      unit: 'ops',
      queries: [
        {
          expr: rate('saga_ended_total', cell, 'outcome, reason'),
          legend: '{{outcome}} ({{reason}})',
        },
      ],
    },
    {
      title: 'Saga duration p50 / p99',
      description: 'Order accepted → terminal state, by outcome.',
      unit: 's',
      queries: latencyQueries('saga_duration_seconds', cell, 'outcome', '{{outcome}}'),
    },
    {
      title: 'Open and stuck sagas',
      description: 'Sagas not yet ended, and those past the bound of re-sends (GET /sagas/stuck).',
      unit: 'short',
      queries: [
        { expr: 'sum by (cell) (saga_open{cell=~"$cell"})', legend: 'open {{cell}}' },
        { expr: 'sum by (cell) (saga_stuck{cell=~"$cell"})', legend: 'stuck {{cell}}' },
      ],
    },
    {
      title: 'Step timeouts and backlog rejections',
      description:
        'Saga steps whose deadline passed, and orders refused because the open-saga backlog was full.',
      unit: 'ops',
      queries: [
        {
          expr: rate('saga_step_timeouts_total', cell, 'cell, step'),
          legend: 'timeout {{cell}} {{step}}',
        },
        {
          expr: rate('saga_backlog_rejections_total', cell, 'cell'),
          legend: 'backlog full {{cell}}',
        },
      ],
    },
    {
      title: 'Outbox unsent and parked rows',
      description: 'Rows not yet published, and rows parked after repeated rejection.',
      unit: 'short',
      queries: [
        {
          expr: 'sum by (service, cell) (outbox_unsent_rows{cell=~"$cell"})',
          legend: 'unsent {{service}} {{cell}}',
        },
        {
          expr: 'sum by (service, cell) (outbox_parked_rows{cell=~"$cell"})',
          legend: 'parked {{service}} {{cell}}',
        },
      ],
    },
    {
      title: 'Outbox oldest unsent age',
      description: 'Age of the oldest row the relay has not published; 0 when none.',
      unit: 's',
      queries: [
        {
          expr: 'max by (service, cell) (outbox_oldest_unsent_age_seconds{cell=~"$cell"})',
          legend: '{{service}} {{cell}}',
        },
      ],
    },
    {
      title: 'Outbox publish rate and failures',
      description: 'Rows the relay published per second by topic, and failed publishes by kind.',
      unit: 'ops',
      queries: [
        { expr: rate('outbox_published_total', cell, 'topic'), legend: '{{topic}}' },
        {
          expr: rate('outbox_publish_failures_total', cell, 'service, kind'),
          legend: 'failed {{service}} {{kind}}',
        },
      ],
    },
    {
      title: 'Outbox relay round p50 / p99',
      description: 'One relay round: claim, publish, mark.',
      unit: 's',
      queries: latencyQueries(
        'outbox_relay_round_duration_seconds',
        cell,
        'service',
        '{{service}}',
      ),
    },
  ],
};
