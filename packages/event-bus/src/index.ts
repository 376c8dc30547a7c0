export * from './types.js';
export { createKafkaEventBus, type KafkaEventBusOptions } from './kafka-event-bus.js';
export { envelopeFromHeaders, envelopeToHeaders, MalformedMessageError } from './headers.js';
