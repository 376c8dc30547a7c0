export {
  AimdLimit,
  defaultQueueSize,
  gradient2,
  Gradient2Limit,
  type AimdOptions,
  type Gradient2Options,
  type LimitAlgorithm,
  type LimitBounds,
  type LimitSample,
} from './algorithms.js';
export {
  ConcurrencyLimiter,
  type Admission,
  type LimiterOptions,
  type LimiterState,
  type Permit,
  type Rejection,
} from './limiter.js';
