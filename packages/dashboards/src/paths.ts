import { fileURLToPath } from 'node:url';

/** Where the generated dashboards live (the chart provisions them from there). */
export const DASHBOARDS_DIR = fileURLToPath(
  new URL('../../../charts/bulkhead/files/dashboards/', import.meta.url),
);

/** Where the rendered PNGs go (docs/observability.md shows them). */
export const PNG_DIR = fileURLToPath(new URL('../../../docs/dashboards/', import.meta.url));
