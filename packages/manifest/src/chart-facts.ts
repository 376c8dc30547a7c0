/**
 * CLI: writes or checks charts/bulkhead/files/deployables.json (see chart.ts).
 *   node packages/manifest/dist/chart-facts.js write [FILE]
 *   node packages/manifest/dist/chart-facts.js check [FILE]   exit 1 if FILE differs
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chartFactsText } from './chart.js';

const [
  command,
  file = fileURLToPath(new URL('../../../charts/bulkhead/files/deployables.json', import.meta.url)),
] = process.argv.slice(2);
const text = chartFactsText();
if (command === 'write') {
  writeFileSync(file, text);
} else if (command === 'check') {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // missing: reported below
  }
  if (current !== text) {
    process.stderr.write(
      `[bulkhead] ERROR: ${file} is not what the manifest renders: run \`node packages/manifest/dist/chart-facts.js write\`\n`,
    );
    process.exitCode = 1;
  }
} else {
  process.stderr.write('usage: chart-facts.js write|check [FILE]\n');
  process.exitCode = 2;
}
