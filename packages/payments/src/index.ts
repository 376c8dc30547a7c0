export { createPaymentsApp, type PaymentsApp, paymentsMigrations } from './app.js';
export { loadPaymentsConfig, type PaymentsConfig } from './config.js';
export {
  authorize,
  type Authorization,
  captureTransition,
  type PaymentStatus,
  type Transition,
  voidTransition,
} from './processor.js';
