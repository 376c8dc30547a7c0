// The k6 suite over the local stack: one script, the scenario chosen by SCENARIO (smoke, load,
// stress, spike, soak, grpc, capacity), its rate and length by RATE (orders per second; the peak for stress
// and spike) and DURATION. Run it with `make load SCENARIO=x RATE=n DURATION=d` (load-tests/run.sh),
// which also writes the summary and the plot. Open-loop, except capacity: arrival-rate executors
// start iterations on schedule whatever the platform's latency; one iteration is one order journey
// (lib/journey.js) or one product read.
import { sleep } from 'k6';
import { createTenants } from './lib/platform.js';
import { ENDPOINT, journeyOptions, orderJourney, productRead } from './lib/journey.js';
import { grpcOrderJourney, loadOrdersProto } from './lib/grpc.js';

const SCENARIO = __ENV.SCENARIO || 'smoke';
const journey = journeyOptions();
// Product reads per order placed (shoppers browse more than they buy).
const READS_PER_ORDER = Number(__ENV.READS_PER_ORDER || 2);
const MAX_VUS = Number(__ENV.MAX_VUS || 1000);

// VUs for an arrival rate whose iterations last up to `seconds`: preallocated for the usual case,
// more allowed up to the bound (when even those are busy, k6 counts dropped_iterations).
const vus = (rate, seconds) => {
  const maxVUs = Math.min(MAX_VUS, Math.ceil(rate * seconds) + 5);
  return { preAllocatedVUs: Math.min(maxVUs, Math.ceil(rate * 2) + 2), maxVUs };
};
// In-flight journeys may finish polling after the scenario's last arrival.
const gracefulStop = `${journey.pollTimeout + 5}s`;

const constant = (exec, rate, duration, seconds) => ({
  executor: 'constant-arrival-rate',
  exec,
  rate,
  timeUnit: '1s',
  duration,
  gracefulStop,
  ...vus(rate, seconds),
});
const ramping = (exec, stages, peak, seconds) => ({
  executor: 'ramping-arrival-rate',
  exec,
  startRate: stages[0].target,
  timeUnit: '1s',
  stages,
  gracefulStop,
  ...vus(peak, seconds),
});
const scale = (stages, factor) =>
  stages.map((s) => ({ ...s, target: Math.max(1, Math.round(s.target * factor)) }));
// Orders and product reads at the same shape (reads at READS_PER_ORDER × the order rate).
const restMix = (make) => ({
  orders: make('orders', 1, journey.pollTimeout + 2),
  reads: make('reads', READS_PER_ORDER, 1),
});

// Per endpoint: failure rate (for the order endpoints a shed 429/503 counts here too), p95, p99.
function restThresholds(ms) {
  const t = {
    checks: ['rate>0.99'],
    accepted_to_terminal: [`p(95)<${ms.terminal[0]}`, `p(99)<${ms.terminal[1]}`],
    orders_unfinished: ['count<1'],
  };
  for (const [endpoint, [p95, p99]] of [
    [ENDPOINT.postOrder, ms.post],
    [ENDPOINT.getOrder, ms.get],
    [ENDPOINT.getProduct, ms.get],
  ]) {
    t[`http_req_failed{name:${endpoint}}`] = [`rate<${ms.errors}`];
    t[`http_req_duration{name:${endpoint}}`] = [`p(95)<${p95}`, `p(99)<${p99}`];
  }
  return t;
}
const abortOnFail = (thresholds) =>
  Object.fromEntries(
    Object.entries(thresholds).map(([metric, list]) => [
      metric,
      list.map((threshold) => ({ threshold, abortOnFail: true, delayAbortEval: '10s' })),
    ]),
  );
const SLO = { errors: 0.01, post: [300, 1000], get: [200, 500], terminal: [2000, 5000] };
// Per RPC; the grpc scenario adds the journey's own (smoke has them from restThresholds).
const grpcThresholds = {
  'grpc_req_failed{name:gRPC CreateOrder}': ['rate<0.01'],
  'grpc_req_failed{name:gRPC GetOrder}': ['rate<0.01'],
  'grpc_req_duration{name:gRPC CreateOrder}': ['p(95)<300', 'p(99)<1000'],
  'grpc_req_duration{name:gRPC GetOrder}': ['p(95)<200', 'p(99)<500'],
};

function build(name) {
  const rate = (fallback) => Number(__ENV.RATE || fallback);
  const duration = (fallback) => __ENV.DURATION || fallback;
  switch (name) {
    // Inside make test: short, low, every endpoint and the gRPC path once a second.
    case 'smoke': {
      const r = rate(2);
      const d = duration('20s');
      return {
        scenarios: {
          ...restMix((exec, f, s) => constant(exec, Math.max(1, r * f), d, s)),
          grpc: constant('grpcOrders', 1, d, journey.pollTimeout + 2),
        },
        thresholds: {
          ...restThresholds({
            ...SLO,
            post: [500, 1000],
            get: [300, 1000],
            terminal: [3000, 5000],
          }),
          ...grpcThresholds,
        },
      };
    }
    // A steady load well inside capacity (about half of what the 2-core box sustains).
    case 'load': {
      const r = rate(25);
      const d = duration('5m');
      return {
        scenarios: restMix((exec, f, s) => constant(exec, r * f, d, s)),
        thresholds: restThresholds(SLO),
      };
    }
    // Steps of RATE/10 (STEP overrides) held DURATION each, up to RATE; stops once a threshold
    // has been crossed for 10 s: the last step held is the sustainable rate.
    case 'stress': {
      const peak = rate(120);
      const step = Number(__ENV.STEP || Math.max(1, Math.round(peak / 10)));
      const hold = duration('30s');
      const stages = [];
      for (let target = step; target <= peak; target += step) {
        stages.push({ target, duration: '2s' }, { target, duration: hold });
      }
      return {
        scenarios: restMix((exec, f, s) => ramping(exec, scale(stages, f), peak * f, s)),
        thresholds: abortOnFail(restThresholds(SLO)),
      };
    }
    // A base of RATE/6 for 1 min, up to RATE in 10 s, held DURATION, back down, 2 min to recover.
    case 'spike': {
      const peak = rate(150);
      const base = Math.max(1, Math.round(peak / 6));
      const stages = [
        { target: base, duration: '1m' },
        { target: peak, duration: '10s' },
        { target: peak, duration: duration('1m') },
        { target: base, duration: '10s' },
        { target: base, duration: '2m' },
      ];
      return {
        scenarios: restMix((exec, f, s) => ramping(exec, scale(stages, f), peak * f, s)),
        thresholds: restThresholds({ ...SLO, errors: 0.05, terminal: [10_000, 30_000] }),
      };
    }
    // Long and steady: leaks, growing tables, housekeeping under load.
    case 'soak': {
      const r = rate(20);
      const d = duration('30m');
      return {
        scenarios: restMix((exec, f, s) => constant(exec, r * f, d, s)),
        thresholds: restThresholds(SLO),
      };
    }
    // Straight to cell-1's orders service over gRPC (no gateway).
    case 'grpc': {
      const r = rate(20);
      return {
        scenarios: { grpc: constant('grpcOrders', r, duration('2m'), journey.pollTimeout + 2) },
        thresholds: {
          checks: ['rate>0.99'],
          accepted_to_terminal: ['p(95)<2000', 'p(99)<5000'],
          orders_unfinished: ['count<1'],
          ...grpcThresholds,
        },
      };
    }
    // Closed loop at saturation (make bench-telemetry): VUS order journeys at a time, each VU
    // starting its next as soon as the last ended (after Retry-After when shed), for DURATION.
    // What it measures is what completed: orders/s and the POST latency at the platform's limit.
    // No pass/fail: the thresholds only make k6 export the per-endpoint figures.
    case 'capacity': {
      return {
        scenarios: {
          orders: {
            executor: 'constant-vus',
            exec: 'capacityOrders',
            vus: Number(__ENV.VUS || 64),
            duration: duration('60s'),
            gracefulStop,
          },
        },
        thresholds: {
          [`http_req_duration{name:${ENDPOINT.postOrder}}`]: ['max>=0'],
          [`http_req_duration{name:${ENDPOINT.getOrder}}`]: ['max>=0'],
          accepted_to_terminal: ['max>=0'],
        },
      };
    }
    default:
      throw new Error(
        `unknown SCENARIO ${name}: smoke, load, stress, spike, soak, grpc or capacity`,
      );
  }
}

const built = build(SCENARIO);
if (Object.values(built.scenarios).some((s) => s.exec === 'grpcOrders')) loadOrdersProto();

export const options = {
  ...built,
  setupTimeout: '60s',
  summaryTrendStats: ['avg', 'min', 'med', 'p(95)', 'p(99)', 'max', 'count'],
};

export function setup() {
  return { tenants: createTenants(1) };
}

export function orders(data) {
  orderJourney(data.tenants, journey);
}

export function capacityOrders(data) {
  const result = orderJourney(data.tenants, journey);
  // A closed loop waits as a client must when shed; without it a refused VU would spin.
  if (result.outcome === 'shed') sleep(result.retryAfter);
}

export function reads(data) {
  productRead(data.tenants);
}

export function grpcOrders(data) {
  grpcOrderJourney(data.tenants, journey);
}
