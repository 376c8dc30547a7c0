// The order journey straight to one cell's orders service over gRPC (k6/net/grpc), bypassing
// the gateway: CreateOrder with an idempotency key and the gateway's request fingerprint, then
// GetOrder at a polite interval until terminal. The tenant ids come from setup() (the admin API);
// the service trusts tenant_id, which is why only the gateway faces clients.
import grpc from 'k6/net/grpc';
import crypto from 'k6/crypto';
import exec from 'k6/execution';
import { check } from 'k6';
import { Rate } from 'k6/metrics';
import { SKUS } from './platform.js';
import { accepted, failed, offered, pollUntilTerminal, recordEnd } from './journey.js';

export const GRPC_CELL = __ENV.GRPC_CELL || 'cell-1';
// cell-1's orders gRPC port (BULKHEAD_ORDERS_GRPC_PORT, as infra/local/services.sh reads it).
export const GRPC_ADDR =
  __ENV.GRPC_ORDERS_ADDR || `127.0.0.1:${__ENV.BULKHEAD_ORDERS_GRPC_PORT || 7111}`;
export const RPC = {
  create: 'bulkhead.orders.v1.OrdersService/CreateOrder',
  get: 'bulkhead.orders.v1.OrdersService/GetOrder',
};

const client = new grpc.Client();
// Failed calls (any status but OK), per RPC (tag `name`); k6 has no built-in rate for gRPC.
const grpcFailed = new Rate('grpc_req_failed');

/** Init context only: parses proto/ (the one source of the contracts). */
export function loadOrdersProto() {
  // Import paths resolve from the entry script (load-tests/k6/).
  client.load(['../../proto'], 'bulkhead/orders/v1/orders.proto');
}

// The gateway's fingerprint (packages/gateway/src/fingerprint.ts): SHA-256 of the canonical JSON.
function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const STATUS = {
  ORDER_STATUS_PENDING: 'PENDING',
  ORDER_STATUS_CONFIRMED: 'CONFIRMED',
  ORDER_STATUS_REJECTED: 'REJECTED',
};
const toOrder = (o) => ({ ...o, status: STATUS[o.status] || o.status });

function invoke(rpc, request) {
  const name = rpc.split('/')[1];
  const r = client.invoke(rpc, request, { timeout: '5s', tags: { name: `gRPC ${name}` } });
  grpcFailed.add(r.status !== grpc.StatusOK, { name: `gRPC ${name}` });
  return r;
}

let connected = false;

/** One order journey over gRPC, with a tenant of GRPC_CELL. */
export function grpcOrderJourney(tenants, options) {
  const inCell = tenants.filter((t) => t.cell === GRPC_CELL);
  if (inCell.length === 0) throw new Error(`setup() made no tenant in ${GRPC_CELL}`);
  if (!connected) {
    client.connect(GRPC_ADDR, { plaintext: true, timeout: '5s' });
    connected = true;
  }
  const n = exec.scenario.iterationInTest;
  const tenant = inCell[n % inCell.length];
  const kind = Math.random() < options.declineShare ? 'decline' : 'visa';
  const body = {
    customerId: `c-${n % 1000}`,
    items: [{ sku: `LOAD-${n % SKUS}`, quantity: 1 }],
    paymentToken: kind === 'decline' ? 'tok_decline' : 'tok_visa',
  };
  offered.add(1);
  const created = invoke(RPC.create, {
    tenantId: tenant.id,
    customerId: body.customerId,
    items: body.items,
    paymentToken: body.paymentToken,
    idempotencyKey: `${exec.scenario.name}-${n}`,
    requestFingerprint: crypto.sha256(canonicalJson(body), 'hex'),
  });
  const ok = check(created, {
    'CreateOrder is OK and PENDING': (r) =>
      r.status === grpc.StatusOK && r.message.order.status === 'ORDER_STATUS_PENDING',
  });
  if (!ok) {
    failed.add(1, { status: String(created.status) });
    return;
  }
  accepted.add(1);
  const id = created.message.order.id;
  const order = pollUntilTerminal(() => {
    const r = invoke(RPC.get, { tenantId: tenant.id, orderId: id });
    return r.status === grpc.StatusOK ? toOrder(r.message.order) : undefined;
  }, options);
  recordEnd(order, kind);
}
