export {
  CELLS,
  CELL_SERVICES,
  FAULT_KINDS,
  KAFKA_STOP_MS,
  PLATFORM_PROCESSES,
  PROFILES,
  PROXIED_CELL,
  estimateMs,
  generateSchedule,
  parseDuration,
  type Fault,
  type FaultKind,
  type Link,
  type ProcessName,
  type ProfileName,
  type Schedule,
  type ScheduledFault,
} from './schedule.js';
export { Toxiproxy, type ProxySpec, type Toxic } from './toxiproxy.js';
export { History, OrderLoad, setUp, type LoadOptions, type Tenant } from './load.js';
export { Nemesis, type NemesisOptions } from './nemesis.js';
