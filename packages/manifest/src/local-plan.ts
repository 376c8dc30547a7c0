/** CLI over renderPlan (plan.ts), for infra/local/services.sh and infra/local/test.sh. */
import { PlanError, renderPlan } from './plan.js';

try {
  process.stdout.write(renderPlan(process.argv.slice(2), process.env).join('\n') + '\n');
} catch (error) {
  if (!(error instanceof PlanError)) throw error;
  process.stderr.write(`[bulkhead] ERROR: ${error.message}\n`);
  process.exitCode = 2;
}
