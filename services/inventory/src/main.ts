import { runCellService } from '@bulkhead/cell-service';
import { inventory } from '@bulkhead/inventory';

const exitCode = await runCellService(inventory);
// A clean drain lets the process end on its own (telemetry flushes on beforeExit); after a
// failure, whatever still holds the event loop must not keep the process alive.
if (exitCode !== 0) process.exit(exitCode);
