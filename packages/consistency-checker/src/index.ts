export {
  HistoryError,
  ORDER_STATUSES,
  historyEventSchema,
  isTerminal,
  operations,
  parseHistory,
  type HistoryEvent,
  type NemesisEvent,
  type Operation,
  type OrderStatus,
  type PlaceEvent,
  type ProductEvent,
  type ReadEvent,
} from './history.js';
export {
  emptyCellState,
  readCellState,
  type CellDatabases,
  type CellState,
  type IdempotencyKeyRow,
  type OrderRow,
  type PaymentRow,
  type ProductRow,
  type ReservationRow,
  type SagaRow,
} from './state.js';
export {
  INVARIANTS,
  check,
  type CheckOptions,
  type CheckReport,
  type CheckStats,
  type Invariant,
  type Violation,
} from './check.js';
export { checkRun, formatReport, type RunCheckOptions } from './run.js';
