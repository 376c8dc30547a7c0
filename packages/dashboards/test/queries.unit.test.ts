import { describe, expect, it } from 'vitest';
import { expandQuery, parseDashboard, panelQueries, queryWindow } from '../src/index.js';

const variables = [
  { name: 'cell', type: 'query', includeAll: true, allValue: '.*' },
  { name: 'quantile', type: 'custom', current: { value: '0.99' } },
];

describe('queryWindow', () => {
  it('takes the scrape interval as the smallest step and Grafana’s $__rate_interval rule', () => {
    expect(queryWindow(1000, 600)).toEqual({
      start: 400,
      end: 1000,
      step: 5,
      rangeSeconds: 600,
      rateInterval: 20,
    });
    // 6 h over 240 points: a 90 s step; rate interval = step + scrape interval.
    expect(queryWindow(100_000, 21_600)).toMatchObject({ step: 90, rateInterval: 95 });
    expect(queryWindow(1000, 600, { scrapeIntervalSeconds: 15 })).toMatchObject({
      step: 15,
      rateInterval: 60,
    });
    expect(() => queryWindow(1000, 0)).toThrow(/positive/);
  });
});

describe('expandQuery', () => {
  const window = queryWindow(10_000, 900);

  it('expands "All" to its allValue in every syntax, and the built-in intervals', () => {
    expect(
      expandQuery(
        'sum(rate(x{cell=~"$cell", a=~"${cell}", b=~"${cell:regex}", c=~"[[cell]]"}[$__rate_interval])) / $__range_s',
        variables,
        window,
      ),
    ).toBe('sum(rate(x{cell=~".*", a=~".*", b=~".*", c=~".*"}[20s])) / 900');
    expect(
      expandQuery('increase(x[$__range]) + $__interval_ms + $__range_ms', variables, window),
    ).toBe('increase(x[900s]) + 5000 + 900000');
    expect(expandQuery('histogram_quantile($quantile, y)', variables, window)).toBe(
      'histogram_quantile(0.99, y)',
    );
  });

  it('leaves regex anchors and label-value dollars that are not variables alone', () => {
    expect(expandQuery('x{route=~"^/v1/orders$"}', variables, window)).toBe(
      'x{route=~"^/v1/orders$"}',
    );
  });

  it('refuses a variable the dashboard does not define, or an "All" without allValue', () => {
    expect(() => expandQuery('x{service=~"$service"}', variables, window)).toThrow(
      /\$service: no such variable/,
    );
    expect(() =>
      expandQuery('x{a=~"$a"}', [{ name: 'a', type: 'query', includeAll: true }], window),
    ).toThrow(/allValue/);
  });
});

describe('panelQueries', () => {
  it('lists every visible target of every panel, by dashboard and panel title', () => {
    const dashboard = parseDashboard({
      uid: 'u',
      title: 'D',
      panels: [
        {
          title: 'P',
          type: 'timeseries',
          gridPos: { x: 0, y: 0, w: 12, h: 8 },
          targets: [
            { refId: 'A', expr: 'up', legendFormat: '{{job}}' },
            { refId: 'B', expr: 'down', hide: true },
          ],
        },
      ],
    });
    expect(panelQueries(dashboard)).toEqual([
      { dashboard: 'D', panel: 'P', refId: 'A', expr: 'up', legend: '{{job}}' },
    ]);
  });

  it('refuses a model that is not a dashboard', () => {
    expect(() =>
      parseDashboard({
        uid: 'u',
        title: 'D',
        panels: [{ title: 'P', type: 'stat', gridPos: {}, targets: [] }],
      }),
    ).toThrow();
  });
});
