import { LIMITS, SKU_PATTERN } from '@bulkhead/contracts';
import { z } from 'zod';

// The public API's shapes. These schemas validate requests AND generate the OpenAPI document
// (openapi.ts), so the documentation cannot drift from what the gateway accepts.

const MAX_AMOUNT = LIMITS.maxAmount;

export const skuSchema = z
  .string()
  .regex(
    SKU_PATTERN,
    'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
  )
  .meta({ description: 'Stock keeping unit, unique per tenant.', examples: ['mug-blue-350'] });

export const orderIdSchema = z.uuid().meta({ description: 'Order id (UUID).' });

const KEY_MAX = LIMITS.maxIdempotencyKeyLength;

/** IETF httpapi Idempotency-Key: here 1-255 visible ASCII characters. */
export const idempotencyKeySchema = z
  .string()
  .regex(
    new RegExp(`^[\\x21-\\x7e]{1,${KEY_MAX}}$`),
    `must be 1-${KEY_MAX} visible ASCII characters`,
  )
  .meta({
    description: 'Makes retries of the same request safe: a repeat returns the first response.',
  });

export const productInputSchema = z
  .strictObject({
    name: z.string().min(1).max(LIMITS.maxProductNameLength),
    priceCents: z.int().min(0).max(MAX_AMOUNT),
    stock: z
      .int()
      .min(0)
      .max(MAX_AMOUNT)
      .meta({ description: 'Units on hand (available + reserved).' }),
  })
  .meta({ title: 'ProductInput' });

export const productSchema = z
  .object({
    sku: z.string(),
    name: z.string(),
    priceCents: z.int(),
    available: z.int(),
    reserved: z.int(),
  })
  .meta({ title: 'Product' });

export const createOrderInputSchema = z
  .strictObject({
    customerId: z.string().min(1).max(LIMITS.maxIdLength),
    items: z
      .array(
        z.strictObject({
          sku: skuSchema,
          quantity: z.int().min(1).max(LIMITS.maxLineQuantity),
        }),
      )
      .min(1)
      .max(LIMITS.maxOrderLines)
      .refine(
        (items) => new Set(items.map((item) => item.sku)).size === items.length,
        'skus must be unique',
      )
      .meta({ description: `1-${LIMITS.maxOrderLines} lines with unique skus.` }),
    paymentToken: z.string().min(1).max(LIMITS.maxIdLength),
  })
  .meta({ title: 'CreateOrderInput' });

export const orderStatusSchema = z.enum(['PENDING', 'CONFIRMED', 'REJECTED']);

export const orderSchema = z
  .object({
    id: z.uuid(),
    status: orderStatusSchema,
    items: z.array(
      z.object({
        sku: z.string(),
        quantity: z.int(),
        unitPriceCents: z
          .int()
          .meta({ description: '0 until stock is reserved (inventory owns prices).' }),
      }),
    ),
    totalCents: z.int(),
    reason: z.string().optional().meta({
      description: 'Why the order was rejected: out_of_stock, unknown_sku or payment_declined.',
    }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ title: 'Order' });

/** RFC 9457 problem details, the body of every error response. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    /** Machine-readable cause where one exists, e.g. idempotency_key_reused. */
    reason: z.string().optional(),
    /** Each invalid field of a 400: a JSON Pointer into the body, or the parameter/header name. */
    errors: z
      .array(
        z.object({
          detail: z.string(),
          pointer: z.string().optional(),
          parameter: z.string().optional(),
          header: z.string().optional(),
        }),
      )
      .optional(),
  })
  .meta({ title: 'Problem' });

export type ProductInput = z.infer<typeof productInputSchema>;
export type Product = z.infer<typeof productSchema>;
export type CreateOrderInput = z.infer<typeof createOrderInputSchema>;
export type Order = z.infer<typeof orderSchema>;
export type OrderStatus = z.infer<typeof orderStatusSchema>;
export type Problem = z.infer<typeof problemSchema>;
export type FieldProblem = NonNullable<Problem['errors']>[number];
