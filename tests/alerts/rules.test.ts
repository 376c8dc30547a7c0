/**
 * The Prometheus rules the chart provisions (charts/bulkhead/files/prometheus/rules/*.yml),
 * checked by promtool (make test): `promtool check rules` with every lint, `promtool test rules`
 * over each tests/alerts/*.test.yml, and what promtool cannot say — every alert has a test that
 * fires it and one in which it must stay silent, every recorded series is asserted in a test,
 * every rule file is tested, and every alert has a severity and a runbook section that exists
 * in docs/observability.md. promtool is installed by `infra/kind/tools.sh promtool`
 * (.tools/bin/promtool); PROMTOOL names another one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HERE = path.join(ROOT, 'tests/alerts');
const RULES = path.join(ROOT, 'charts/bulkhead/files/prometheus/rules');
const DOC = path.join(ROOT, 'docs/observability.md');
const RUNBOOK = 'https://github.com/bulkhead-platform/bulkhead/blob/main/docs/observability.md#';
const PROMTOOL = process.env.PROMTOOL ?? path.join(ROOT, '.tools/bin/promtool');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface AlertTest {
  alertname: string;
  exp_alerts?: unknown[] | null;
}
interface TestFile {
  rule_files: string[];
  tests: {
    name?: string;
    alert_rule_test?: AlertTest[];
    promql_expr_test?: { expr: string }[];
  }[];
}

const ruleFiles = readdirSync(RULES)
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => path.join(RULES, f));
const testFiles = readdirSync(HERE)
  .filter((f) => f.endsWith('.test.yml'))
  .sort()
  .map((f) => path.join(HERE, f));
const rulesOf = (file: string) => parse(readFileSync(file, 'utf8')) as RuleFile;
const testsOf = (file: string) => parse(readFileSync(file, 'utf8')) as TestFile;

/** Every rule with the file it is in. */
const rules = ruleFiles.flatMap((file) =>
  rulesOf(file).groups.flatMap((g) => g.rules.map((rule) => ({ file, rule }))),
);
/** Every test file with the rule files it loads (absolute) and its parsed content. */
const tests = testFiles.map((file) => {
  const content = testsOf(file);
  return {
    file,
    loads: content.rule_files.map((r) => path.resolve(path.dirname(file), r)),
    content,
  };
});
/** The test cases that can speak for a rule of `file`: those of the test files that load it. */
const casesFor = (file: string) =>
  tests.filter((t) => t.loads.includes(file)).flatMap((t) => t.content.tests);

/** GitHub's anchor for a Markdown heading. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
const anchors = new Set(
  readFileSync(DOC, 'utf8')
    .split('\n')
    .filter((line) => /^#{1,6} /.test(line))
    .map((line) => slug(line.replace(/^#+ /, ''))),
);

function promtool(args: string[]): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, args, { cwd: HERE, encoding: 'utf8' });
  if (r.error)
    throw new Error(`${PROMTOOL}: ${r.error.message} (bash infra/kind/tools.sh promtool)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('Prometheus rules', () => {
  it('there are rule files and test files', () => {
    expect(ruleFiles.length).toBeGreaterThan(0);
    expect(testFiles.length).toBeGreaterThan(0);
  });

  it('promtool check rules (every lint, fatal)', () => {
    const r = promtool(['check', 'rules', '--lint=all', '--lint-fatal', ...ruleFiles]);
    expect(r.status, r.output).toBe(0);
  });

  for (const { file } of tests) {
    it(`promtool test rules ${path.basename(file)}`, () => {
      const r = promtool(['test', 'rules', file]);
      expect(r.status, r.output).toBe(0);
    });
  }

  it('every test file loads rule files that exist', () => {
    const missing = tests.flatMap((t) => t.loads.filter((r) => !existsSync(r)));
    expect(missing).toEqual([]);
  });

  it('every rule file is loaded by a test file', () => {
    const untested = ruleFiles.filter((f) => !tests.some((t) => t.loads.includes(f)));
    expect(untested).toEqual([]);
  });

  it('every alert has a test that fires it and one in which it stays silent', () => {
    const gaps = rules.flatMap(({ file, rule }) => {
      if (!rule.alert) return [];
      const checks = casesFor(file)
        .flatMap((c) => c.alert_rule_test ?? [])
        .filter((a) => a.alertname === rule.alert);
      return [
        ...(checks.some((a) => (a.exp_alerts?.length ?? 0) > 0) ? [] : [`${rule.alert}: fires`]),
        ...(checks.some((a) => (a.exp_alerts?.length ?? 0) === 0) ? [] : [`${rule.alert}: silent`]),
      ];
    });
    expect(gaps).toEqual([]);
  });

  it('every alert a test names is a rule of the files it loads', () => {
    const unknown = tests.flatMap((t) => {
      const alerts = new Set(
        rules.filter(({ file }) => t.loads.includes(file)).map(({ rule }) => rule.alert),
      );
      return t.content.tests
        .flatMap((c) => c.alert_rule_test ?? [])
        .filter((a) => !alerts.has(a.alertname))
        .map((a) => `${path.basename(t.file)}: ${a.alertname}`);
    });
    expect(unknown).toEqual([]);
  });

  it('every recorded series is asserted by a promql_expr_test', () => {
    const untested = rules.flatMap(({ file, rule }) => {
      if (!rule.record) return [];
      const name = new RegExp(
        `(^|[^\\w:])${rule.record.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w:])`,
      );
      const used = casesFor(file)
        .flatMap((c) => c.promql_expr_test ?? [])
        .some((e) => name.test(e.expr));
      return used ? [] : [rule.record];
    });
    expect([...new Set(untested)]).toEqual([]);
  });

  it('every alert has a severity, a summary, a description and a runbook section that exists', () => {
    const problems = rules.flatMap(({ rule }) => {
      if (!rule.alert) return [];
      const { severity } = rule.labels ?? {};
      const { summary, description, runbook_url: runbook } = rule.annotations ?? {};
      return [
        ...(severity === 'page' || severity === 'ticket' ? [] : [`${rule.alert}: severity`]),
        ...(summary && description ? [] : [`${rule.alert}: summary and description`]),
        ...(runbook?.startsWith(RUNBOOK) && anchors.has(runbook.slice(RUNBOOK.length))
          ? []
          : [`${rule.alert}: runbook ${runbook ?? '(none)'}`]),
      ];
    });
    expect(problems).toEqual([]);
  });
});
