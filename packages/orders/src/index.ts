export { loadOrdersConfig, type OrdersConfig } from './config.js';
export { createOrdersApp, type OrdersApp } from './app.js';
export { orderSaga, type OrderSagaStep } from './order-saga.js';
