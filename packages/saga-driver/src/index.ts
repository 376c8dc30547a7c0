export {
  command,
  startSagaDriver,
  testCellId,
  type Command,
  type SagaDriver,
} from './saga-driver.js';
export {
  startCellService,
  startParticipant,
  type CellServiceUnderTest,
  type ParticipantService,
  type ParticipantUnderTest,
} from './cell-service.js';
export { deleteCellTopics, withKafkaAdmin } from './kafka-admin.js';
export { createTestBus, type Collector, type TestBus } from './test-bus.js';
