import type { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import * as orderEvents from './gen/bulkhead/orders/v1/events.js';
import * as inventory from './gen/bulkhead/inventory/v1/messages.js';
import * as payments from './gen/bulkhead/payments/v1/messages.js';
import * as saga from './gen/bulkhead/saga/v1/messages.js';

interface GeneratedMessage<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: BinaryReader | Uint8Array, length?: number): T;
  fromPartial(object: Partial<T>): T;
}

/** A Kafka message type: its fully-qualified protobuf name and its binary codec. */
export interface MessageCodec<T> {
  readonly typeName: string;
  encode(message: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

export function messageCodec<T>(
  protoPackage: string,
  name: string,
  fns: GeneratedMessage<T>,
): MessageCodec<T> {
  return {
    typeName: `${protoPackage}.${name}`,
    encode: (message) => fns.encode(message).finish(),
    decode: (bytes) => fns.decode(bytes),
  };
}

const inv = (name: keyof typeof inventory & string) =>
  messageCodec(inventory.protobufPackage, name, inventory[name] as never);
const pay = (name: keyof typeof payments & string) =>
  messageCodec(payments.protobufPackage, name, payments[name] as never);

/** Every message that travels over Kafka, by name. */
export const sagaMessages = {
  ReserveStock: inv('ReserveStock') as MessageCodec<inventory.ReserveStock>,
  StockReserved: inv('StockReserved') as MessageCodec<inventory.StockReserved>,
  StockReservationFailed: inv(
    'StockReservationFailed',
  ) as MessageCodec<inventory.StockReservationFailed>,
  ReleaseStock: inv('ReleaseStock') as MessageCodec<inventory.ReleaseStock>,
  StockReleased: inv('StockReleased') as MessageCodec<inventory.StockReleased>,
  CommitStock: inv('CommitStock') as MessageCodec<inventory.CommitStock>,
  StockCommitted: inv('StockCommitted') as MessageCodec<inventory.StockCommitted>,
  AuthorizePayment: pay('AuthorizePayment') as MessageCodec<payments.AuthorizePayment>,
  PaymentAuthorized: pay('PaymentAuthorized') as MessageCodec<payments.PaymentAuthorized>,
  PaymentDeclined: pay('PaymentDeclined') as MessageCodec<payments.PaymentDeclined>,
  CapturePayment: pay('CapturePayment') as MessageCodec<payments.CapturePayment>,
  PaymentCaptured: pay('PaymentCaptured') as MessageCodec<payments.PaymentCaptured>,
  VoidPayment: pay('VoidPayment') as MessageCodec<payments.VoidPayment>,
  PaymentVoided: pay('PaymentVoided') as MessageCodec<payments.PaymentVoided>,
  CommandFailed: messageCodec(saga.protobufPackage, 'CommandFailed', saga.CommandFailed),
  OrderConfirmed: messageCodec(
    orderEvents.protobufPackage,
    'OrderConfirmed',
    orderEvents.OrderConfirmed,
  ),
  OrderRejected: messageCodec(
    orderEvents.protobufPackage,
    'OrderRejected',
    orderEvents.OrderRejected,
  ),
} as const;

export type SagaMessageName = keyof typeof sagaMessages;
