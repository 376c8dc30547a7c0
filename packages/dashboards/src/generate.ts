/**
 * CLI (make dashboards): writes the generated dashboards into charts/bulkhead/files/dashboards/,
 * removing files of dashboards that no longer exist. A unit test fails while they differ.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generatedDashboards } from './index.js';
import { DASHBOARDS_DIR } from './paths.js';

const generated = generatedDashboards();
mkdirSync(DASHBOARDS_DIR, { recursive: true });
for (const file of readdirSync(DASHBOARDS_DIR)) {
  if (file.endsWith('.json') && !generated.has(file.slice(0, -'.json'.length))) {
    rmSync(join(DASHBOARDS_DIR, file));
  }
}
for (const [name, text] of generated) writeFileSync(join(DASHBOARDS_DIR, `${name}.json`), text);
process.stdout.write(`[bulkhead] ${generated.size} dashboards written to ${DASHBOARDS_DIR}\n`);
