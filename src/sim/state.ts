// In-memory payment intents and refunds with Dojo's state rules. Plain maps and counters only: the
// simulator has to sustain thousands of refunds per second on a small machine.
import { randomBytes } from "node:crypto";

export type IntentStatus = "Created" | "Authorized" | "Captured" | "Reversed" | "Refunded" | "Canceled";
export type CaptureMode = "Auto" | "Manual";

export interface SimCapture {
  readonly id: string;
  readonly amount: number;
  readonly tipsAmount: number | null;
  readonly status: "Successful";
  readonly createdAt: string;
}

export interface SimIntent {
  readonly id: string;
  status: IntentStatus;
  readonly captureMode: CaptureMode;
  readonly amount: { value: number; currencyCode: string };
  readonly reference: string;
  readonly description: string | null;
  refundedAmount: number;
  readonly captures: SimCapture[];
  readonly refundIds: string[];
  readonly createdAt: string;
  updatedAt: string;
}

export interface SimRefund {
  readonly refundId: string;
  readonly paymentIntentId: string;
  readonly amount: number;
  readonly refundReason: string | null;
  readonly notes: string | null;
  readonly idempotencyKey: string;
  readonly createdAt: string;
}

/**
 * Random bytes for ids, drawn for 256 ids at a time: one call into the system's random source per id
 * cost a third of what serving the whole request did.
 */
const ID_BYTES = 12;
let idPool = Buffer.alloc(0);
let idPoolAt = 0;

export function newId(prefix: string): string {
  if (idPoolAt + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * 256);
    idPoolAt = 0;
  }
  const id = idPool.toString("base64url", idPoolAt, idPoolAt + ID_BYTES);
  idPoolAt += ID_BYTES;
  return `${prefix}${id}`;
}

export class SimState {
  readonly intents = new Map<string, SimIntent>();
  readonly refunds = new Map<string, SimRefund>();
  refundsCreated = 0;
  refundedTotal = 0;

  createIntent(args: {
    amount: number;
    currencyCode: string;
    captureMode: CaptureMode;
    reference: string;
    description: string | null;
    sandbox: boolean;
  }): SimIntent {
    const now = new Date().toISOString();
    const intent: SimIntent = {
      id: newId(args.sandbox ? "pi_sandbox_" : "pi_"),
      status: "Created",
      captureMode: args.captureMode,
      amount: { value: args.amount, currencyCode: args.currencyCode },
      reference: args.reference,
      description: args.description,
      refundedAmount: 0,
      captures: [],
      refundIds: [],
      createdAt: now,
      updatedAt: now,
    };
    this.intents.set(intent.id, intent);
    return intent;
  }

  /** Test hook standing in for the card payment: Auto captures at once, Manual only authorises. */
  pay(intent: SimIntent): boolean {
    if (intent.status !== "Created") return false;
    intent.status = intent.captureMode === "Auto" ? "Captured" : "Authorized";
    intent.updatedAt = new Date().toISOString();
    return true;
  }

  /** Captured so far, per the derivation Dojo's object implies (no captured field exists). */
  captured(intent: SimIntent): number {
    if (intent.status !== "Captured" && intent.status !== "Refunded") return 0;
    if (intent.captureMode === "Auto") return intent.amount.value;
    let sum = 0;
    for (const c of intent.captures) sum += c.amount;
    return sum;
  }

  capture(intent: SimIntent, amount: number, tipsAmount: number | null): SimCapture {
    const capture: SimCapture = {
      id: newId("cp_"),
      amount,
      tipsAmount,
      status: "Successful",
      createdAt: new Date().toISOString(),
    };
    intent.captures.push(capture);
    intent.status = "Captured";
    intent.updatedAt = capture.createdAt;
    return capture;
  }

  refund(
    intent: SimIntent,
    fields: Omit<SimRefund, "refundId" | "paymentIntentId" | "createdAt">,
  ): SimRefund {
    const refund: SimRefund = {
      refundId: newId("rfnd_"),
      paymentIntentId: intent.id,
      createdAt: new Date().toISOString(),
      ...fields,
    };
    this.refunds.set(refund.refundId, refund);
    intent.refundIds.push(refund.refundId);
    intent.refundedAmount += refund.amount;
    // Assumption (Dojo leaves it open): a partial refund keeps the intent Captured; the status turns
    // Refunded once nothing is left to refund.
    if (intent.refundedAmount >= this.captured(intent)) intent.status = "Refunded";
    intent.updatedAt = refund.createdAt;
    this.refundsCreated++;
    this.refundedTotal += refund.amount;
    return refund;
  }

  reverse(intent: SimIntent): string {
    intent.status = "Reversed";
    intent.updatedAt = new Date().toISOString();
    return newId("rvs_");
  }

  clear(): void {
    this.intents.clear();
    this.refunds.clear();
    this.refundsCreated = 0;
    this.refundedTotal = 0;
  }
}

export function intentJson(intent: SimIntent): Record<string, unknown> {
  return {
    id: intent.id,
    captureMode: intent.captureMode,
    status: intent.status,
    paymentMethods: ["Card"],
    amount: intent.amount,
    totalAmount: intent.amount,
    refundedAmount: intent.refundedAmount,
    captures: intent.captures,
    reference: intent.reference,
    description: intent.description,
    createdAt: intent.createdAt,
    updatedAt: intent.updatedAt,
  };
}

export function refundJson(refund: SimRefund): Record<string, unknown> {
  return {
    paymentIntentId: refund.paymentIntentId,
    refundId: refund.refundId,
    refundReason: refund.refundReason,
    notes: refund.notes,
  };
}
