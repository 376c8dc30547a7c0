import { LIMITS, REJECTION_REASONS, SKU_PATTERN, textRule } from '@bulkhead/contracts';
import { problemSchema as sharedProblemSchema, textField } from '@bulkhead/http';
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
    name: textField(textRule(LIMITS.maxProductNameLength, { blank: false })),
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
    customerId: textField(textRule(LIMITS.maxIdLength)),
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
    paymentToken: textField(textRule(LIMITS.maxIdLength)),
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
    reason: z
      .string()
      .optional()
      .meta({
        description: `Why the order was rejected: ${REJECTION_REASONS.join(', ')}. invalid_request means a bug; timeout: a step got no answer in time; processing_failed: a service could not carry out its part.`,
      }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ title: 'Order' });

/** RFC 9457 problem details, the body of every error response (shared by every edge). */
export const problemSchema = sharedProblemSchema;

export type ProductInput = z.infer<typeof productInputSchema>;
export type Product = z.infer<typeof productSchema>;
export type CreateOrderInput = z.infer<typeof createOrderInputSchema>;
export type Order = z.infer<typeof orderSchema>;
export type OrderStatus = z.infer<typeof orderStatusSchema>;
export type Problem = z.infer<typeof problemSchema>;
export type FieldProblem = NonNullable<Problem['errors']>[number];
