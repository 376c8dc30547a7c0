import { describe, expect, it } from 'vitest';
import { cellServices, deployableNames, deployables, type DeployableSpec } from '../src/index.js';
import { PlanError, portsOf, renderPlan } from '../src/plan.js';

const specs = Object.entries(deployables) as [string, DeployableSpec][];

describe('the manifest', () => {
  it('names only deployables and ports that exist', () => {
    for (const [name, spec] of specs) {
      expect(Object.keys(spec.ports), `${name}.probePort`).toContain(spec.probePort);
      for (const call of spec.calls) {
        const target = deployables[call.to as keyof typeof deployables] as DeployableSpec;
        expect(target, `${name} calls ${call.to}`).toBeDefined();
        expect(Object.keys(target.ports), `${name} calls ${call.to}:${call.port}`).toContain(
          call.port,
        );
      }
      if (spec.sidecarOf) expect(deployableNames).toContain(spec.sidecarOf);
    }
  });

  it('gives every cell service a gRPC port, its topics and one consumed topic of its own', () => {
    expect(cellServices).toEqual(['orders', 'inventory', 'payments']);
    for (const service of cellServices) {
      const spec: DeployableSpec = deployables[service];
      expect(spec.ports.grpc?.protocol).toBe('grpc');
      expect(spec.topics).toContain(spec.consumes);
    }
  });

  it('gives no two processes the same port, with all 8 cells', () => {
    const cells = [1, 2, 3, 4, 5, 6, 7, 8];
    const ports = deployableNames.flatMap((name) =>
      (deployables[name].kind === 'cell-service' ? cells : [1]).flatMap((cell) =>
        Object.values(portsOf(name, {}, cell)),
      ),
    );
    expect(new Set(ports).size).toBe(ports.length);
  });
});

describe('the local launch plan', () => {
  const start = (env = {}, cells = '2') =>
    renderPlan(['start', '--cells', cells, '--data-dir', '/d'], env).map((l) => l.split('\t'));

  it('starts the control plane, each cell, the sidecar and the gateway, in order', () => {
    const started = start()
      .filter(([step]) => step === 'start')
      .map(([, name]) => name);
    expect(started).toEqual([
      'control-plane',
      'orders-cell-1',
      'inventory-cell-1',
      'payments-cell-1',
      'orders-cell-2',
      'inventory-cell-2',
      'payments-cell-2',
      'config-agent',
      'gateway',
    ]);
  });

  it('configures what each process calls and the cells the control plane routes to', () => {
    const lines = start();
    const envOf = (name: string) =>
      Object.fromEntries(
        lines
          .find(([step, n]) => step === 'start' && n === name)!
          .slice(4)
          .map((v) => v.split(/=(.*)/s).slice(0, 2)),
      );
    expect(envOf('config-agent')).toMatchObject({
      CONTROL_PLANE_ADDRESS: '127.0.0.1:7081',
      SNAPSHOT_PATH: '/d/config/gateway/routing-snapshot.json',
      SNAPSHOT_SERVICES: 'orders,inventory',
    });
    expect(envOf('gateway')).toMatchObject({
      GATEWAY_PORT: '8080',
      SNAPSHOT_PATH: '/d/config/gateway/routing-snapshot.json',
    });
    expect(envOf('payments-cell-2')).toEqual({
      OTEL_SERVICE_NAME: 'payments',
      OTEL_RESOURCE_ATTRIBUTES: 'service.instance.id=payments-cell-2,bulkhead.cell=cell-2',
      CELL_ID: 'cell-2',
      GRPC_PORT: '7123',
      OPS_PORT: '9123',
    });
    expect(envOf('gateway')).toMatchObject({
      OTEL_SERVICE_NAME: 'gateway',
      OTEL_RESOURCE_ATTRIBUTES: 'service.instance.id=gateway',
    });
    expect(JSON.parse(envOf('control-plane').BULKHEAD_CELLS)).toEqual([
      {
        id: 'cell-1',
        endpoints: {
          orders: '127.0.0.1:7111',
          inventory: '127.0.0.1:7112',
          payments: '127.0.0.1:7113',
        },
      },
      {
        id: 'cell-2',
        endpoints: {
          orders: '127.0.0.1:7121',
          inventory: '127.0.0.1:7122',
          payments: '127.0.0.1:7123',
        },
      },
    ]);
    // The sidecar starts once the control plane it calls is ready.
    const steps = lines.map(([step, name]) => `${step} ${name}`);
    expect(steps.indexOf('wait control-plane')).toBeLessThan(steps.indexOf('start config-agent'));
  });

  it("routes one cell's services to their own PostgreSQL and Kafka addresses (make chaos)", () => {
    const lines = start({
      BULKHEAD_CELL_1_PG_URL: 'postgres://postgres@127.0.0.1:15433/postgres',
      BULKHEAD_CELL_1_KAFKA_BROKERS: '127.0.0.1:19094',
    });
    const envOf = (name: string) =>
      lines.find(([step, n]) => step === 'start' && n === name)!.slice(4);
    for (const service of ['orders', 'inventory', 'payments']) {
      expect(envOf(`${service}-cell-1`)).toEqual(
        expect.arrayContaining([
          'BULKHEAD_PG_URL=postgres://postgres@127.0.0.1:15433/postgres',
          'BULKHEAD_KAFKA_BROKERS=127.0.0.1:19094',
        ]),
      );
      expect(envOf(`${service}-cell-2`).join(' ')).not.toMatch(/BULKHEAD_(PG_URL|KAFKA_BROKERS)/);
    }
    expect(envOf('gateway').join(' ')).not.toMatch(/BULKHEAD_(PG_URL|KAFKA_BROKERS)/);
    expect(() => start({ BULKHEAD_CELL_2_KAFKA_BROKERS: 'a\tb' })).toThrow(PlanError);
  });

  it('takes port overrides, shifting cell ports per cell', () => {
    const env = { BULKHEAD_GATEWAY_HTTP_PORT: '18080', BULKHEAD_ORDERS_GRPC_PORT: '17111' };
    expect(portsOf('gateway', env)).toEqual({ http: 18080, ops: 9080 });
    expect(portsOf('orders', env, 3)).toEqual({ grpc: 17131, ops: 9131 });
    expect(renderPlan(['urls'], env)).toContain('BULKHEAD_GATEWAY_URL=http://127.0.0.1:18080');
  });

  it.each([
    ['a port that is not a number', { BULKHEAD_GATEWAY_HTTP_PORT: 'http' }, '2'],
    ['a port out of range', { BULKHEAD_ORDERS_GRPC_PORT: '65535' }, '2'],
    ['a cell count out of range', {}, '9'],
  ])('rejects %s', (_case, env, cells) => {
    expect(() => start(env, cells)).toThrow(PlanError);
  });

  it("lists every process's metrics port as a Prometheus target, labelled", () => {
    const [json] = renderPlan(['scrape-targets', '--cells', '2'], {
      BULKHEAD_ORDERS_OPS_PORT: '19111',
    });
    const groups = JSON.parse(json!) as { targets: string[]; labels: Record<string, string> }[];
    const started = start()
      .filter(([step]) => step === 'start')
      .map(([, name]) => name);
    expect(groups.map((g) => g.labels.instance).sort()).toEqual([...started].sort());
    expect(groups).toContainEqual({
      targets: ['127.0.0.1:19121'],
      labels: { service: 'orders', cell: 'cell-2', instance: 'orders-cell-2' },
    });
    expect(groups).toContainEqual({
      targets: ['127.0.0.1:9080'],
      labels: { service: 'gateway', instance: 'gateway' },
    });
    expect(() => renderPlan(['scrape-targets', '--cells', '0'], {})).toThrow(PlanError);
  });

  it('stops in reverse order, every cell count', () => {
    expect(renderPlan(['stop'], {})).toEqual([
      'gateway',
      'config-agent',
      'payments-cell-*',
      'inventory-cell-*',
      'orders-cell-*',
      'control-plane',
    ]);
  });
});
