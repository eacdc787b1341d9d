// Success bodies, parsed loosely. Dojo's sources disagree on the refund and reversal shapes (spec,
// docs page and older docs all differ), so only the identifiers are required.
import { z } from "zod";

const refundBody = z.looseObject({ refundId: z.string().min(1) });
const reversalBody = z.looseObject({ reversalId: z.string().nullish(), id: z.string().nullish() });
const captureBody = z.looseObject({ captureId: z.string().nullish(), id: z.string().nullish() });

export interface CreatedRefund {
  readonly refundId: string;
  readonly raw: unknown;
}

export interface RetrievedRefund {
  readonly refundId: string;
  readonly paymentIntentId: string | null;
  readonly raw: unknown;
}

export interface CreatedReversal {
  readonly reversalId: string;
  readonly raw: unknown;
}

export interface CreatedCapture {
  readonly captureId: string | null;
  readonly raw: unknown;
}

export function readRefund(json: unknown): CreatedRefund | undefined {
  const parsed = refundBody.safeParse(json);
  return parsed.success ? { refundId: parsed.data.refundId, raw: json } : undefined;
}

export function readRetrievedRefund(json: unknown): RetrievedRefund | undefined {
  const parsed = refundBody.safeParse(json);
  if (!parsed.success) return undefined;
  const pi = (json as { paymentIntentId?: unknown }).paymentIntentId;
  return { refundId: parsed.data.refundId, paymentIntentId: typeof pi === "string" ? pi : null, raw: json };
}

/** The schema says `reversalId`; the spec's own example says `id`. Read the first, fall back to the second. */
export function readReversal(json: unknown): CreatedReversal | undefined {
  const parsed = reversalBody.safeParse(json);
  if (!parsed.success) return undefined;
  const reversalId = parsed.data.reversalId || parsed.data.id;
  return reversalId ? { reversalId, raw: json } : undefined;
}

/** A capture is applied once Dojo answers 200; its id is nice to have, not required. */
export function readCapture(json: unknown): CreatedCapture | undefined {
  const parsed = captureBody.safeParse(json);
  if (!parsed.success) return undefined;
  return { captureId: parsed.data.captureId || parsed.data.id || null, raw: json };
}
