import { latencyQueries, rate, type DashboardSpec } from '../builders.js';

const selector = 'cell=~"$cell", group=~"$group"';

export const kafkaConsumers: DashboardSpec = {
  uid: 'bulkhead-kafka-consumers',
  title: 'Bulkhead / Kafka consumers',
  description:
    'Every consumer group: how far behind it is, what happens to each message (handled, duplicate, retried, dead-lettered), the dead letters and the handling time.',
  variables: [
    { name: 'cell', label: 'Cell', metric: 'messages_consumed_total' },
    { name: 'group', label: 'Group', metric: 'messages_consumed_total' },
  ],
  panels: [
    {
      title: 'Consumer lag by group and topic',
      description: 'High watermark − committed offset, summed over partitions.',
      unit: 'short',
      queries: [
        {
          expr: 'sum by (group, topic) (kafka_consumer_lag{cell=~"$cell", group=~"$group"})',
          legend: '{{group}} {{topic}}',
        },
      ],
    },
    {
      title: 'Messages by outcome',
      description: 'Consumer results per second: handled, duplicate, retried, dead_lettered.',
      unit: 'ops',
      queries: [
        {
          expr: rate('messages_consumed_total', selector, 'group, outcome'),
          legend: '{{group}} {{outcome}}',
        },
      ],
    },
    {
      title: 'Dead letters by topic and kind',
      description: 'Records sent to <topic>.dead-letters per second.',
      unit: 'ops',
      queries: [
        {
          expr: rate('messages_dead_lettered_total', selector, 'topic, kind'),
          legend: '{{topic}} {{kind}}',
        },
      ],
    },
    {
      title: 'Dead letters in the time range',
      description: 'Records dead-lettered over the dashboard range; redrive with make redrive.',
      unit: 'short',
      kind: 'stat',
      queries: [
        {
          expr: 'sum by (topic) (increase(messages_dead_lettered_total{cell=~"$cell", group=~"$group"}[$__range]))',
          legend: '{{topic}}',
        },
      ],
    },
    {
      title: 'Handling time p50 / p99',
      description: "One message's handler, inside its transaction, per group and topic.",
      unit: 's',
      width: 24,
      queries: latencyQueries(
        'message_handling_seconds',
        selector,
        'group, topic',
        '{{group}} {{topic}}',
      ),
    },
  ],
};
