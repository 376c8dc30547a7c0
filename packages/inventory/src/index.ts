export {
  inventory,
  createInventoryApp,
  loadInventoryConfig,
  type InventoryApp,
  inventoryMigrations,
} from './app.js';
export {
  decideReservation,
  type PricedLine,
  type ReservationDecision,
  type ReservationFailure,
  type StockLine,
} from './reservation.js';
export { upsertProductSchema, type ProductInput } from './api.js';
