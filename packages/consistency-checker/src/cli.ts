/**
 * consistency-checker --history FILE [--pg-url URL] [--bound-ms N] [--out report.json]
 * Reads the history and every cell's databases it names, prints a summary, writes the full
 * report (every violation with its evidence) to --out; exits 1 on any violation, 2 on bad input.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { HistoryError } from './history.js';
import { checkRun, formatReport } from './run.js';

const argsSchema = z.object({
  history: z.string().min(1),
  'pg-url': z.url().default(process.env.BULKHEAD_PG_URL ?? 'postgres://postgres@127.0.0.1:15432'),
  'bound-ms': z.coerce.number().int().positive().default(180_000),
  out: z.string().min(1).optional(),
});

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      history: { type: 'string' },
      'pg-url': { type: 'string' },
      'bound-ms': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const args = argsSchema.safeParse(values);
  if (!args.success) {
    process.stderr.write(
      `usage: consistency-checker --history FILE [--pg-url URL] [--bound-ms N] [--out FILE]\n${z.prettifyError(args.error)}\n`,
    );
    return 2;
  }
  const report = await checkRun({
    historyPath: args.data.history,
    pgUrl: args.data['pg-url'],
    terminalBoundMs: args.data['bound-ms'],
  });
  if (args.data.out) await writeFile(args.data.out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(formatReport(report) + '\n');
  return report.valid ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `consistency-checker: ${error instanceof HistoryError ? error.message : String(error)}\n`,
    );
    process.exitCode = 2;
  },
);
