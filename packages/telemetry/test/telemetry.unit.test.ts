import { describe, expect, it } from 'vitest';
import { CELL_ATTRIBUTE, telemetryResource } from '../src/index.js';

describe('telemetryResource', () => {
  it('names the service, the cell and the process instance', () => {
    const one = telemetryResource({ OTEL_SERVICE_NAME: 'orders', CELL_ID: 'cell-2' }).attributes;
    const two = telemetryResource({ OTEL_SERVICE_NAME: 'orders', CELL_ID: 'cell-2' }).attributes;
    expect(one).toMatchObject({ 'service.name': 'orders', [CELL_ATTRIBUTE]: 'cell-2' });
    expect(one['service.instance.id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(two['service.instance.id']).not.toBe(one['service.instance.id']);
  });

  it('has no cell for a process outside the cells', () => {
    const gateway = telemetryResource({ OTEL_SERVICE_NAME: 'gateway' }).attributes;
    expect(gateway['service.name']).toBe('gateway');
    expect(gateway).not.toHaveProperty(CELL_ATTRIBUTE);
  });
});
