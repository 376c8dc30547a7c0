export { createInventoryApp, type InventoryApp, inventoryMigrations } from './app.js';
export { type InventoryConfig, loadInventoryConfig } from './config.js';
export {
  decideReservation,
  type PricedLine,
  type ReservationDecision,
  type ReservationFailure,
  type StockLine,
} from './reservation.js';
export { upsertProductSchema, type ProductInput } from './api.js';
