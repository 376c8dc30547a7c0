import { rate, type DashboardSpec } from '../builders.js';

const process = 'service=~"$service", cell=~"$cell"';
const by = 'service, cell, instance';
const legend = '{{service}} {{cell}} {{instance}}';

export const runtime: DashboardSpec = {
  uid: 'bulkhead-runtime',
  title: 'Bulkhead / Runtime',
  description:
    'Every Node process: event-loop delay, heap, garbage collection, CPU and resident memory.',
  variables: [
    { name: 'service', label: 'Service', metric: 'process_cpu_seconds_total' },
    { name: 'cell', label: 'Cell', metric: 'process_cpu_seconds_total' },
  ],
  panels: [
    {
      title: 'Event-loop delay p99',
      description: 'How long ready work waits for the event loop.',
      unit: 's',
      queries: [{ expr: `max by (${by}) (nodejs_eventloop_lag_p99_seconds{${process}})`, legend }],
    },
    {
      title: 'Heap used',
      description: 'V8 heap in use.',
      unit: 'bytes',
      queries: [{ expr: `sum by (${by}) (nodejs_heap_size_used_bytes{${process}})`, legend }],
    },
    {
      title: 'GC time share',
      description: 'Fraction of wall time spent in garbage collection, by GC kind.',
      unit: 'percentunit',
      queries: [
        {
          expr: rate('nodejs_gc_duration_seconds_sum', process, 'service, cell, kind'),
          legend: '{{service}} {{cell}} {{kind}}',
        },
      ],
    },
    {
      title: 'CPU',
      description: 'CPU seconds per second (1 = one core).',
      unit: 'percentunit',
      queries: [{ expr: rate('process_cpu_seconds_total', process, by), legend }],
    },
    {
      title: 'Resident memory',
      description: 'RSS of each process.',
      unit: 'bytes',
      queries: [{ expr: `sum by (${by}) (process_resident_memory_bytes{${process}})`, legend }],
    },
    {
      title: 'Active handles',
      description: 'Handles (sockets, timers, …) keeping each event loop alive.',
      unit: 'short',
      queries: [{ expr: `sum by (${by}) (nodejs_active_handles_total{${process}})`, legend }],
    },
  ],
};
