// The overload benchmark (make bench-overload; a benchmark, not a test: no thresholds). Offers
// 1×, 2× and 4× CAPACITY orders per second (the platform's measured capacity) for LEVEL each,
// open-loop, and after each level sends one fresh probe order a second for RECOVERY, which is how
// load-tests/report.mjs measures the time to recover. A shed answer (429 or 503) is the platform
// declining work on purpose: counted as shed, not as a failed request. The schedule, in k6 time:
//   baseline  CAPACITY/4 orders/s for WARMUP (what normal latency is)
//   level_1x  CAPACITY for LEVEL, then probe_1x for RECOVERY
//   level_2x, probe_2x, level_4x, probe_4x likewise, one after the other
// Each journey of a level keeps polling its order (at POLL_INTERVAL) up to LEVEL + RECOVERY, so
// an order accepted at the start of a level can still be seen ending during its recovery window.
import http from 'k6/http';
import { createTenants } from './lib/platform.js';
import { journeyOptions, orderJourney } from './lib/journey.js';

const CAPACITY = Number(__ENV.CAPACITY || 50);
const LEVELS = (__ENV.LEVELS || '1,2,4').split(',').map(Number);
const seconds = (text) => {
  const m = /^(\d+)(s|m)?$/.exec(String(text));
  if (!m) throw new Error(`a duration in s or m, like 60s: ${text}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
};
const LEVEL = seconds(__ENV.LEVEL || '60s');
const RECOVERY = seconds(__ENV.RECOVERY || '120s');
const WARMUP = seconds(__ENV.WARMUP || '20s');
const MAX_VUS = Number(__ENV.MAX_VUS || 1000);

// Every accepted order should be confirmable: no declines, nothing scarce (unless asked).
const journey = journeyOptions({
  pollInterval: 1,
  pollTimeout: LEVEL + RECOVERY,
  declineShare: 0,
  scarceShare: 0,
});
// A probe polls closely: one order a second, so its latency is seen to a tenth of a second.
const probe = { ...journey, pollInterval: 0.1, pollTimeout: RECOVERY };

const constant = (exec, rate, startTime, duration, pollSeconds) => {
  const maxVUs = Math.min(MAX_VUS, Math.ceil(rate * pollSeconds) + 5);
  return {
    executor: 'constant-arrival-rate',
    exec,
    rate,
    timeUnit: '1s',
    startTime: `${startTime}s`,
    duration: `${duration}s`,
    gracefulStop: `${pollSeconds + 5}s`,
    preAllocatedVUs: Math.min(maxVUs, Math.ceil(rate * 2) + 2),
    maxVUs,
  };
};

const scenarios = {
  baseline: constant('orders', Math.max(1, Math.round(CAPACITY / 4)), 0, WARMUP, 10),
};
// The baseline's orders end within seconds; a short gap keeps them out of level 1.
let at = WARMUP + 5;
for (const factor of LEVELS) {
  scenarios[`level_${factor}x`] = constant(
    'orders',
    CAPACITY * factor,
    at,
    LEVEL,
    LEVEL + RECOVERY,
  );
  at += LEVEL;
  scenarios[`probe_${factor}x`] = constant('probeOrder', 1, at, RECOVERY, RECOVERY);
  at += RECOVERY;
}

export const options = {
  scenarios,
  setupTimeout: '60s',
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max', 'count'],
};

// Shed answers are expected answers here (http_req_failed counts only the rest).
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 399 }, 429, 503));

export function setup() {
  return { tenants: createTenants(1) };
}

export function orders(data) {
  orderJourney(data.tenants, journey);
}

export function probeOrder(data) {
  orderJourney(data.tenants, probe);
}
