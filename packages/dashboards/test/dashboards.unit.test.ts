import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ALL_VALUE,
  DASHBOARDS,
  DASHBOARDS_DIR,
  PROMETHEUS_DATASOURCE,
  buildDashboard,
  generatedDashboards,
  panelQueries,
  parseDashboard,
} from '../src/index.js';

const generated = generatedDashboards();
const catalog = readFileSync(new URL('../../../docs/observability.md', import.meta.url), 'utf8');
// The series the alert rules record (`record: a:b:c`): what a panel may query besides the catalog.
const rulesDir = new URL('../../../charts/bulkhead/files/prometheus/rules/', import.meta.url);
const recorded = new Set(
  readdirSync(rulesDir)
    .filter((file) => file.endsWith('.yml'))
    .flatMap((file) => [
      ...readFileSync(new URL(file, rulesDir), 'utf8').matchAll(/^\s*- record: (\S+)$/gm),
    ])
    .map((match) => match[1]),
);

describe('generated dashboards', () => {
  it('are committed as generated (run make dashboards after changing them)', () => {
    const committed = readdirSync(DASHBOARDS_DIR)
      .filter((file) => file.endsWith('.json'))
      .sort();
    expect(committed).toEqual([...generated.keys()].map((name) => `${name}.json`).sort());
    for (const [name, text] of generated) {
      expect(readFileSync(`${DASHBOARDS_DIR}/${name}.json`, 'utf8'), name).toBe(text);
    }
  });

  it('are the six of issue 10, with distinct uids', () => {
    expect(Object.keys(DASHBOARDS).sort()).toEqual([
      'cells-routing',
      'kafka-consumers',
      'order-journey',
      'overview',
      'resilience',
      'runtime',
    ]);
    const uids = Object.values(DASHBOARDS).map((spec) => spec.uid);
    expect(new Set(uids).size).toBe(uids.length);
  });

  for (const [name, spec] of Object.entries(DASHBOARDS)) {
    const model = buildDashboard(spec);
    const dashboard = parseDashboard(JSON.parse(generated.get(name) ?? ''));

    it(`${name}: every panel and variable queries the provisioned Prometheus, with a unit`, () => {
      for (const panel of model.panels ?? []) {
        if (!('targets' in panel)) throw new Error(`${name}: a row panel`);
        expect(panel.datasource, panel.title).toEqual(PROMETHEUS_DATASOURCE);
        expect(panel.fieldConfig?.defaults.unit, panel.title).toMatch(/\S/);
        // The SDK types targets as an opaque Dataquery; the JSON is what Grafana reads.
        const targets = JSON.parse(JSON.stringify(panel.targets ?? [])) as {
          refId: string;
          datasource: unknown;
        }[];
        expect(targets.length, panel.title).toBeGreaterThan(0);
        for (const target of targets) {
          expect(target.datasource, `${panel.title} ${target.refId}`).toEqual(
            PROMETHEUS_DATASOURCE,
          );
        }
      }
      for (const variable of model.templating.list ?? []) {
        expect(variable.datasource).toEqual(PROMETHEUS_DATASOURCE);
        expect(variable).toMatchObject({ includeAll: true, multi: true, allValue: ALL_VALUE });
      }
    });

    it(`${name}: panels tile the 24-column grid without overlapping`, () => {
      const cells = new Set<string>();
      for (const { title, gridPos } of dashboard.panels) {
        expect(gridPos.x + gridPos.w, title).toBeLessThanOrEqual(24);
        for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
          for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
            expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
            cells.add(`${x},${y}`);
          }
        }
      }
    });

    it(`${name}: queries only metrics of the catalog in docs/observability.md or recorded by the rules, and only defined variables`, () => {
      const variables = new Set(
        (dashboard.templating?.list ?? []).map((variable) => variable.name),
      );
      for (const query of panelQueries(dashboard)) {
        // A selector names its metric, or a recorded series (colons), right before `{`.
        const metrics = [...query.expr.matchAll(/([a-z_:][a-z0-9_:]*)\{/g)].map(
          (match) => match[1] ?? '',
        );
        const names = [...query.expr.matchAll(/\b([a-z_]+:[a-z0-9_:]+)/g)].map(
          (match) => match[1] ?? '',
        );
        for (const name of names) {
          expect(recorded.has(name), `${query.panel}: ${name} is recorded by no rule`).toBe(true);
        }
        expect(metrics.length, query.expr).toBeGreaterThan(0);
        for (const metric of metrics.filter((name) => !name.includes(':'))) {
          const base = metric.replace(/_(bucket|count|sum)$/, '');
          expect(
            catalog.includes(`\`${metric}\``) || catalog.includes(`\`${base}\``),
            `${query.panel}: ${metric}`,
          ).toBe(true);
        }
        for (const [, variable] of query.expr.matchAll(/\$(\w+)/g)) {
          if (!variable?.startsWith('__'))
            expect(variables.has(variable ?? ''), `${query.panel}: $${variable}`).toBe(true);
        }
        expect(query.legend, `${query.panel} ${query.refId}`).toMatch(/\{\{\w+\}\}/);
      }
    });
  }
});
