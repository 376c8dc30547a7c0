import { runCellService } from '@bulkhead/cell-service';
import { payments } from '@bulkhead/payments';

const exitCode = await runCellService(payments);
// A clean drain lets the process end on its own (telemetry flushes on beforeExit); after a
// failure, whatever still holds the event loop must not keep the process alive.
if (exitCode !== 0) process.exit(exitCode);
