// The platform as the load scripts see it: where it is (environment, the same variables as the
// end-to-end suite), and the set-up every scenario shares — tenants created through the control
// plane's admin API, their keys waited for at the gateway, and their products.
import http from 'k6/http';
import { sleep } from 'k6';

export const GATEWAY = __ENV.BULKHEAD_GATEWAY_URL || 'http://127.0.0.1:8080';
export const CONTROL_PLANE = __ENV.BULKHEAD_CONTROL_PLANE_URL || 'http://127.0.0.1:8081';
const ADMIN_TOKEN = __ENV.CONTROL_PLANE_ADMIN_TOKEN || 'dev-admin-token';

/** Products every tenant gets: SKUS plentiful ones (spread, not one hot row) and one scarce. */
export const SKUS = Number(__ENV.SKUS || 20);
export const PLENTIFUL_STOCK = 10_000_000;
export const SCARCE_SKU = 'LOAD-SCARCE';
// The scarce product sells out within the first orders; after that its orders are out_of_stock.
const SCARCE_STOCK = Number(__ENV.SCARCE_STOCK || 3);

export const headers = (token, extra = {}) => ({
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
  ...extra,
});

// Set-up requests are not the load: tagged apart, so no threshold judges them.
const SETUP = { tags: { name: 'setup' } };

function must(response, what) {
  if (response.status < 200 || response.status > 299) {
    throw new Error(`${what}: ${response.status} ${response.body}`);
  }
  return response.json();
}

/**
 * Tenants for the run, `perCell` in every cell the control plane lists (it places a new tenant
 * in the cell with the fewest, so a few more requests than cells × perCell are enough).
 * Returns [{ id, cell, apiKey }] once every key answers at the gateway.
 */
export function createTenants(perCell = 1) {
  const admin = { ...SETUP, headers: headers(ADMIN_TOKEN) };
  const cells = must(http.get(`${CONTROL_PLANE}/v1/cells`, admin), 'GET /v1/cells').map(
    (c) => c.id,
  );
  const byCell = new Map(cells.map((c) => [c, []]));
  const wanted = cells.length * perCell;
  for (let attempt = 0; attempt < wanted * 4; attempt++) {
    if ([...byCell.values()].every((ts) => ts.length >= perCell)) break;
    const t = must(
      http.post(`${CONTROL_PLANE}/v1/tenants`, JSON.stringify({ name: 'k6' }), admin),
      'POST /v1/tenants',
    );
    const list = byCell.get(t.cell);
    if (list && list.length < perCell) list.push({ id: t.id, cell: t.cell, apiKey: t.apiKey });
  }
  const tenants = [...byCell.values()].flat();
  if (tenants.length < wanted)
    throw new Error(`only ${tenants.length} of ${wanted} tenants placed`);
  tenants.forEach(untilKeyWorks);
  tenants.forEach(createProducts);
  return tenants;
}

// A new key reaches the gateway through the control plane's snapshot and the config agent: it
// counts as working after ten answers in a row that are not 401 (as in tests/e2e).
function untilKeyWorks(tenant) {
  const deadline = Date.now() + 15_000;
  const params = {
    ...SETUP,
    headers: headers(tenant.apiKey),
    // 401 (not yet) and 404 (there is no such product) are the answers this waits through.
    responseCallback: http.expectedStatuses(401, 404),
  };
  for (let inARow = 0; inARow < 10;) {
    const r = http.get(`${GATEWAY}/v1/products/none`, params);
    inARow = r.status === 401 ? 0 : inARow + 1;
    if (Date.now() > deadline) throw new Error(`the key of tenant ${tenant.id} never worked`);
    if (inARow === 0) sleep(0.05);
  }
}

function createProducts(tenant) {
  const put = (sku, stock) =>
    must(
      http.put(
        `${GATEWAY}/v1/products/${sku}`,
        JSON.stringify({ name: 'Load', priceCents: 100, stock }),
        { ...SETUP, headers: headers(tenant.apiKey) },
      ),
      `PUT /v1/products/${sku}`,
    );
  for (let s = 0; s < SKUS; s++) put(`LOAD-${s}`, PLENTIFUL_STOCK);
  put(SCARCE_SKU, SCARCE_STOCK);
}
