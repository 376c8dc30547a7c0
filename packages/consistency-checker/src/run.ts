import { readFile } from 'node:fs/promises';
import { INVARIANTS, check, type CheckReport } from './check.js';
import { parseHistory } from './history.js';
import { readCellState } from './state.js';

export interface RunCheckOptions {
  historyPath: string;
  /** PostgreSQL server URL (direct, not through a fault proxy). */
  pgUrl: string;
  terminalBoundMs: number;
}

/** Reads history.jsonl, then the databases of every cell the history names, and checks them. */
export async function checkRun(options: RunCheckOptions): Promise<CheckReport> {
  const events = parseHistory(await readFile(options.historyPath, 'utf8'));
  const tenants = new Set<string>();
  const cells = new Set<string>();
  for (const e of events) {
    if (e.f === 'product' || e.f === 'place') {
      tenants.add(e.tenant);
      cells.add(e.cell);
    }
  }
  const states = await Promise.all(
    [...cells].sort().map((cellId) => readCellState(options.pgUrl, { cellId }, [...tenants])),
  );
  return check(events, states, { terminalBoundMs: options.terminalBoundMs });
}

/** A one-screen summary: operations, orders by outcome, faults by kind, violations. */
export function formatReport(report: CheckReport, maxViolations = 15): string {
  const s = report.stats;
  const reasons = Object.entries(s.rejectedByReason)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const faults = Object.entries(s.faultsByKind)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  const lines = [
    `operations ${s.operations} (attempts ${s.attempts}): accepted ${s.accepted}, indeterminate ${s.indeterminate}, refused ${s.refused}`,
    `orders ${s.orders.total}: confirmed ${s.orders.confirmed}, rejected ${s.orders.rejected}${reasons ? ` (${reasons})` : ''}, pending ${s.orders.pending}`,
    `reads ${s.reads}; faults ${faults || 'none'}`,
    ...INVARIANTS.map(
      (inv) =>
        `  ${(report.violationsByInvariant[inv] ?? 0) === 0 ? 'ok  ' : 'FAIL'} ${inv}${report.violationsByInvariant[inv] ? ` (${report.violationsByInvariant[inv]})` : ''}`,
    ),
    `violations: ${report.violations.length}`,
    ...report.violations.slice(0, maxViolations).map((v) => `  [${v.invariant}] ${v.message}`),
  ];
  if (report.violations.length > maxViolations) {
    lines.push(`  … ${report.violations.length - maxViolations} more in report.json`);
  }
  return lines.join('\n');
}
