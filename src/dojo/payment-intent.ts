// The parts of Dojo's PaymentIntent the relay relies on. Parsing is tolerant: real responses carry
// fields missing from the published schema (paymentEvents, paymentSource), so unknown keys pass.
import { z } from "zod";

const moneySchema = z.looseObject({ value: z.number().int(), currencyCode: z.string() });

const captureSchema = z.looseObject({
  id: z.string().nullish(),
  amount: z.number().int(),
  tipsAmount: z.number().int().nullish(),
  status: z.string().nullish(),
  createdAt: z.string().nullish(),
});

export const paymentIntentSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  captureMode: z.string().nullish(),
  amount: moneySchema.nullish(),
  totalAmount: moneySchema.nullish(),
  refundedAmount: z.number().int().nullish(),
  captures: z.array(captureSchema).nullish(),
});

export type PaymentIntent = z.infer<typeof paymentIntentSchema>;
export type Money = z.infer<typeof moneySchema>;

export interface RefundableAmount {
  readonly captured: number;
  readonly refunded: number;
  readonly remaining: number;
  readonly currencyCode: string | null;
}

/**
 * Dojo exposes neither a captured nor a remaining amount, so they are derived: Manual intents have
 * captured the sum of their Successful captures; Auto intents list no captures (the spec's own Captured
 * example has `captures: []`), so their captured amount is `totalAmount.value`, else `amount.value`.
 * Intents that were never captured (or were reversed or canceled) have nothing refundable.
 */
export function refundableAmount(intent: PaymentIntent): RefundableAmount {
  const currencyCode = intent.totalAmount?.currencyCode ?? intent.amount?.currencyCode ?? null;
  const refunded = intent.refundedAmount ?? 0;
  let captured = 0;
  if (intent.status === "Captured" || intent.status === "Refunded") {
    if (intent.captureMode === "Manual") {
      for (const c of intent.captures ?? []) if (c.status === "Successful") captured += c.amount;
    } else {
      captured = intent.totalAmount?.value ?? intent.amount?.value ?? 0;
    }
  }
  return { captured, refunded, remaining: Math.max(0, captured - refunded), currencyCode };
}
