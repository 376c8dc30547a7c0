export {
  payments,
  createPaymentsApp,
  loadPaymentsConfig,
  type PaymentsApp,
  paymentsMigrations,
} from './app.js';
export {
  authorize,
  type Authorization,
  captureTransition,
  type PaymentStatus,
  type Transition,
  voidTransition,
} from './processor.js';
