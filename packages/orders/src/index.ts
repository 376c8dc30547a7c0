export { orders, createOrdersApp, loadOrdersConfig, type OrdersApp } from './app.js';
export { orderSaga, type OrderSagaStep } from './order-saga.js';
