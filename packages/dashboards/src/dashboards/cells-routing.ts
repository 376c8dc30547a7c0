import { errorRatio, rate, type DashboardSpec } from '../builders.js';

const toCell = 'service="gateway", cell=~"$cell"';

export const cellsRouting: DashboardSpec = {
  uid: 'bulkhead-cells-routing',
  title: 'Bulkhead / Cells and routing',
  description:
    'What each cell receives from the gateway, and the routing snapshot every gateway routes by: its version and age, the cells by state, and the config agents that deliver it.',
  variables: [{ name: 'cell', label: 'Cell', metric: 'grpc_client_handling_seconds_count' }],
  panels: [
    {
      title: 'Gateway calls per cell',
      description: 'gRPC calls per second the gateway makes towards each cell.',
      unit: 'reqps',
      queries: [
        {
          expr: rate('grpc_client_handling_seconds_count', toCell, 'cell, grpc_method'),
          legend: '{{cell}} {{grpc_method}}',
        },
      ],
    },
    {
      title: 'Gateway call failures per cell',
      description: 'Share of gateway → cell calls not ending OK.',
      unit: 'percentunit',
      queries: [
        {
          expr: errorRatio('grpc_client_handling_seconds', toCell, 'grpc_code!="OK"', 'cell'),
          legend: '{{cell}}',
        },
      ],
    },
    {
      title: 'Routing snapshot version per gateway',
      description: 'Version of the snapshot each gateway routes by (0 before the first).',
      unit: 'none',
      kind: 'stat',
      width: 8,
      queries: [
        {
          expr: 'max by (instance) (routing_snapshot_version{service="gateway"})',
          legend: '{{instance}}',
        },
      ],
    },
    {
      title: 'Routing snapshot age per gateway',
      description: 'Time since each gateway last loaded a snapshot it accepted.',
      unit: 's',
      width: 16,
      queries: [
        {
          expr: 'max by (instance) (routing_snapshot_age_seconds{service="gateway"})',
          legend: '{{instance}}',
        },
      ],
    },
    {
      title: 'Cells by state',
      description: 'Cells in the routing snapshot, by state (highest count over the gateways).',
      unit: 'short',
      width: 8,
      kind: 'stat',
      queries: [
        { expr: 'max by (state) (routing_snapshot_cells{service="gateway"})', legend: '{{state}}' },
      ],
    },
    {
      title: 'Config agent snapshot version',
      description: 'Version each config-agent sidecar last wrote (per cell and instance).',
      unit: 'none',
      width: 8,
      kind: 'stat',
      queries: [
        {
          expr: 'max by (cell, instance) (config_agent_snapshot_version{cell=~"$cell"})',
          legend: '{{cell}} {{instance}}',
        },
      ],
    },
    {
      title: 'Config agent watch open',
      description: "1 while a sidecar's watch stream to the control plane is open.",
      unit: 'none',
      width: 8,
      queries: [
        {
          expr: 'min by (cell, instance) (config_agent_watch_up{cell=~"$cell"})',
          legend: '{{cell}} {{instance}}',
        },
      ],
    },
  ],
};
