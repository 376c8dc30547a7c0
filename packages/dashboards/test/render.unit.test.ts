import { describe, expect, it } from 'vitest';
import { parseDashboard, renderDashboardPng, renderDashboardSvg } from '../src/index.js';
import { legendName, unitScale } from '../src/render.js';

const dashboard = parseDashboard({
  uid: 'u',
  title: 'Test dashboard',
  panels: [
    {
      title: 'Latency',
      type: 'timeseries',
      gridPos: { x: 0, y: 0, w: 12, h: 8 },
      fieldConfig: { defaults: { unit: 's' } },
      targets: [{ refId: 'A', expr: 'x' }],
    },
    {
      title: 'Version',
      type: 'stat',
      gridPos: { x: 12, y: 0, w: 12, h: 8 },
      fieldConfig: { defaults: { unit: 'none' } },
      targets: [{ refId: 'A', expr: 'y' }],
    },
    {
      title: 'Empty',
      type: 'timeseries',
      gridPos: { x: 0, y: 8, w: 12, h: 8 },
      targets: [{ refId: 'A', expr: 'z' }],
    },
    {
      title: 'Broken',
      type: 'timeseries',
      gridPos: { x: 12, y: 8, w: 12, h: 8 },
      targets: [{ refId: 'A', expr: 'w' }],
    },
  ],
});

describe('legendName', () => {
  it('fills {{label}} from the series, or lists the labels without a format', () => {
    expect(legendName('{{service}} {{cell}}', { service: 'orders', cell: 'cell-1' })).toBe(
      'orders cell-1',
    );
    expect(legendName('{{service}} {{cell}}', { service: 'gateway' })).toBe('gateway');
    expect(legendName('', { a: '1' })).toBe('{a="1"}');
    expect(legendName('{{missing}}', {})).toBe('(no labels)');
  });
});

describe('unitScale', () => {
  it('picks a readable multiple from the largest value', () => {
    expect(unitScale('s', 0.25)).toEqual({ factor: 1000, label: 'ms' });
    expect(unitScale('s', 3)).toEqual({ factor: 1, label: 's' });
    expect(unitScale('bytes', 50 * 1024 * 1024)).toEqual({ factor: 1 / 1024 ** 2, label: 'MiB' });
    expect(unitScale('percentunit', 0.5)).toEqual({ factor: 100, label: '%' });
  });
});

describe('renderDashboardSvg / renderDashboardPng', () => {
  it('draws every panel: lines with legend, stat values, no data, query errors', async () => {
    const svg = await renderDashboardSvg(
      dashboard,
      [
        {
          series: [
            {
              name: 'p99 orders',
              values: [
                [1000, 0.2],
                [1005, 0.3],
                [1010, Number.NaN],
                [1015, 0.25],
              ],
            },
            {
              name: 'p50 orders',
              values: [
                [1000, 0.05],
                [1005, 0.06],
              ],
            },
          ],
          errors: [],
        },
        {
          series: [
            {
              name: 'gateway-1',
              values: [
                [1000, 41],
                [1005, 42],
              ],
            },
          ],
          errors: [],
        },
        { series: [], errors: [] },
        { series: [], errors: ['A: bad_data: parse error'] },
      ],
      'a subtitle',
    );
    for (const text of [
      'Test dashboard',
      'a subtitle',
      'Latency',
      'p99 orders',
      'p50 orders',
      'ms',
      'Version',
      '42',
      'gateway-1',
      'No data',
      'A: bad_data: parse error',
    ]) {
      expect(svg, text).toContain(text);
    }
    const png = renderDashboardPng(svg);
    expect(png.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    );
    // 1800 px wide (IHDR width, big-endian at byte 16).
    expect(png.readUInt32BE(16)).toBe(1800);
  });
});
