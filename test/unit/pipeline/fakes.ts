// In-memory stand-ins for the pipeline's ports: a scripted Dojo client, a Dojo with state (DojoSim), a
// ledger that can be switched off (FlakyLedger), a recording sink and helpers to watch the fault gate.
import { type InboundMessage, idempotencyKeyFor, type OutcomeEvent } from "../../../schemas/index.ts";
import type {
  CreatedRefund,
  CreatedReversal,
  CreateRefundInput,
  CreateReversalInput,
  DojoError,
  DojoErrorCode,
  DojoResult,
  GetPaymentIntentInput,
  PaymentIntent,
} from "../../../src/dojo/index.ts";
import { dojoError, refundableAmount } from "../../../src/dojo/index.ts";
import type { Ledger } from "../../../src/ledger/index.ts";
import { createLogger, type Logger } from "../../../src/logger.ts";
import type {
  DeadLetterReason,
  IntakeGate,
  MessageResult,
  OutcomeSink,
  PipelineSettings,
} from "../../../src/pipeline/index.ts";
import { type ReturnApprovedSpec, returnApproved } from "../../support/events.ts";

export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export function ok<T>(value: T): DojoResult<T> {
  return { ok: true, value, attempts: 1 };
}

export function fail<T>(code: DojoErrorCode, message = `Dojo said ${code}`, status?: number): DojoResult<T> {
  const error: DojoError = dojoError(code, message, status === undefined ? {} : { status });
  return { ok: false, error, attempts: 1 };
}

export function capturedIntent(id: string, value: number, currencyCode = "GBP"): PaymentIntent {
  return {
    id,
    status: "Captured",
    captureMode: "Auto",
    amount: { value, currencyCode },
    totalAmount: { value, currencyCode },
    refundedAmount: 0,
    captures: [],
  };
}

type Answer<T> = DojoResult<T> | Promise<DojoResult<T>>;

export type DojoCall =
  | { readonly op: "createRefund"; readonly input: CreateRefundInput }
  | { readonly op: "createReversal"; readonly input: CreateReversalInput }
  | { readonly op: "getPaymentIntent"; readonly input: GetPaymentIntentInput };

/** A Dojo client whose answers are set per test; every call is recorded in order. */
export class FakeDojo {
  readonly calls: DojoCall[] = [];
  onRefund: (input: CreateRefundInput) => Answer<CreatedRefund> = (input) =>
    ok({ refundId: `rf_${input.paymentIntentId}_${input.amount}`, raw: {} });
  onReversal: (input: CreateReversalInput) => Answer<CreatedReversal> = (input) =>
    ok({ reversalId: `rv_${input.paymentIntentId}`, raw: {} });
  onIntent: (input: GetPaymentIntentInput) => Answer<PaymentIntent> = (input) =>
    ok(capturedIntent(input.paymentIntentId, 1_000_000));

  readonly createRefund = async (input: CreateRefundInput): Promise<DojoResult<CreatedRefund>> => {
    this.calls.push({ op: "createRefund", input });
    return this.onRefund(input);
  };
  readonly createReversal = async (input: CreateReversalInput): Promise<DojoResult<CreatedReversal>> => {
    this.calls.push({ op: "createReversal", input });
    return this.onReversal(input);
  };
  readonly getPaymentIntent = async (input: GetPaymentIntentInput): Promise<DojoResult<PaymentIntent>> => {
    this.calls.push({ op: "getPaymentIntent", input });
    return this.onIntent(input);
  };

  ops(): string[] {
    return this.calls.map((c) => c.op);
  }

  refunds(): CreateRefundInput[] {
    return this.calls.flatMap((c) => (c.op === "createRefund" ? [c.input] : []));
  }
}

/** Records what the pipeline publishes and parks; can be told to fail the next publishes. */
export class FakeSink implements OutcomeSink {
  readonly published: OutcomeEvent[] = [];
  readonly deadLetters: Array<{ message: InboundMessage; reason: DeadLetterReason }> = [];
  publishAttempts = 0;
  failNextPublishes = 0;

  async publish(outcome: OutcomeEvent): Promise<void> {
    this.publishAttempts += 1;
    if (this.failNextPublishes > 0) {
      this.failNextPublishes -= 1;
      throw new Error("broker unavailable");
    }
    this.published.push(outcome);
  }

  async deadLetter(message: InboundMessage, reason: DeadLetterReason): Promise<void> {
    this.deadLetters.push({ message, reason });
  }
}

export type ReturnApprovedEvent = ReturnType<typeof returnApproved>;

export function event(spec: ReturnApprovedSpec): ReturnApprovedEvent {
  return returnApproved(spec);
}

export function message(body: unknown): InboundMessage {
  return {
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/cloudevents+json" },
    transport: "kafka",
  };
}

/** Pipeline settings for unit tests: preflight on, 3 attempts, millisecond backoff. */
export const SETTINGS: PipelineSettings = {
  eventSource: "urn:refund-relay:test",
  idempotencyNamespace: "rr",
  maxMessageBytes: 262_144,
  maxInFlight: 8,
  preflight: true,
  reverseWhenAuthorized: false,
  retry: { maxAttempts: 3, maxAgeMs: 60_000, baseDelayMs: 1, maxDelayMs: 2 },
};

/** A Dojo result answered after `attempts` HTTP requests of one client call (the client's own resends). */
export function afterRequests<T>(result: DojoResult<T>, attempts: number): DojoResult<T> {
  return { ...result, attempts };
}

/** The idempotency key the pipeline derives for an event under SETTINGS. */
export function keyOf(e: ReturnApprovedEvent, namespace = SETTINGS.idempotencyNamespace): string {
  return idempotencyKeyFor(e, { namespace });
}

const CREDENTIAL_STATUS = { unauthorized: 401, forbidden: 403 } as const;

/** A refund Dojo made, as the simulated Dojo holds it. */
export interface SimRefund {
  readonly refundId: string;
  readonly paymentIntentId: string;
  readonly amount: number;
  readonly idempotencyKey: string;
}

/**
 * A Dojo with state, for the key-first rules: payment intents whose refunded amount grows with every
 * refund, an idempotency store that replays the first successful refund of a key (whatever the
 * intent shows now), refusals of refunds the intent cannot take (404, 422), reversals of Authorized
 * intents only, and a switch that makes every call answer 401 or 403 as with a revoked key. Calls are
 * recorded by FakeDojo; tests may still replace a handler and call the simulated one from it.
 */
export class DojoSim extends FakeDojo {
  readonly intents = new Map<string, PaymentIntent>();
  /** Dojo's idempotency store: the refund made for each key. */
  readonly byKey = new Map<string, SimRefund>();
  /** Every refund Dojo actually made, in order (a replayed key adds nothing). */
  readonly made: SimRefund[] = [];
  /** Payment intents Dojo actually reversed, in order. */
  readonly reversed: string[] = [];
  /** While set, every call is refused as with a revoked key (401) or one lacking permission (403). */
  rejectKey: keyof typeof CREDENTIAL_STATUS | undefined;
  /** Requests refused for the key, per operation. */
  readonly rejected = { getPaymentIntent: 0, createRefund: 0, createReversal: 0 };

  constructor(...intents: PaymentIntent[]) {
    super();
    for (const intent of intents) this.put(intent);
    this.onIntent = (input) => this.read(input);
    this.onRefund = (input) => this.refund(input);
    this.onReversal = (input) => this.reverse(input);
  }

  put(intent: PaymentIntent): void {
    this.intents.set(intent.id, structuredClone(intent));
  }

  /** The intent as Dojo holds it now. */
  intent(id: string): PaymentIntent {
    const intent = this.intents.get(id);
    if (intent === undefined) throw new Error(`DojoSim: no intent ${id}`);
    return intent;
  }

  /** A refund an earlier attempt (another instance, a lost ledger) already made with this key. */
  seedRefund(paymentIntentId: string, idempotencyKey: string, amount: number): SimRefund {
    const answer = this.#apply(this.intent(paymentIntentId), idempotencyKey, amount);
    if (!answer.ok) throw new Error("DojoSim: the seeded refund does not fit the intent");
    return this.byKey.get(idempotencyKey) as SimRefund;
  }

  read(input: GetPaymentIntentInput): DojoResult<PaymentIntent> {
    const refused = this.#credentials<PaymentIntent>("getPaymentIntent");
    if (refused !== undefined) return refused;
    const intent = this.intents.get(input.paymentIntentId);
    if (intent === undefined) return fail("not_found", "Dojo answered HTTP 404", 404);
    return ok(structuredClone(intent));
  }

  refund(input: CreateRefundInput): DojoResult<CreatedRefund> {
    const refused = this.#credentials<CreatedRefund>("createRefund");
    if (refused !== undefined) return refused;
    const known = this.byKey.get(input.idempotencyKey);
    if (known !== undefined) return ok({ refundId: known.refundId, raw: {} });
    const intent = this.intents.get(input.paymentIntentId);
    if (intent === undefined) return fail("not_found", "Dojo answered HTTP 404", 404);
    if (intent.status !== "Captured" && intent.status !== "Refunded") {
      return fail("unprocessable", `the payment intent is ${intent.status}`, 422);
    }
    return this.#apply(intent, input.idempotencyKey, input.amount);
  }

  reverse(input: CreateReversalInput): DojoResult<CreatedReversal> {
    const refused = this.#credentials<CreatedReversal>("createReversal");
    if (refused !== undefined) return refused;
    const intent = this.intents.get(input.paymentIntentId);
    if (intent === undefined) return fail("not_found", "Dojo answered HTTP 404", 404);
    if (intent.status !== "Authorized")
      return fail("conflict", `the payment intent is ${intent.status}`, 409);
    this.intents.set(intent.id, { ...intent, status: "Reversed" });
    this.reversed.push(intent.id);
    return ok({ reversalId: `rv_${intent.id}`, raw: {} });
  }

  #apply(intent: PaymentIntent, idempotencyKey: string, amount: number): DojoResult<CreatedRefund> {
    const money = refundableAmount(intent);
    if (amount > money.remaining) return fail("unprocessable", "amount exceeds the refundable amount", 422);
    const refunded = money.refunded + amount;
    this.intents.set(intent.id, {
      ...intent,
      refundedAmount: refunded,
      status: refunded >= money.captured ? "Refunded" : intent.status,
    });
    const made: SimRefund = {
      refundId: `rf_${intent.id}_${this.made.length + 1}`,
      paymentIntentId: intent.id,
      amount,
      idempotencyKey,
    };
    this.made.push(made);
    this.byKey.set(idempotencyKey, made);
    return ok({ refundId: made.refundId, raw: {} });
  }

  #credentials<T>(op: keyof DojoSim["rejected"]): DojoResult<T> | undefined {
    if (this.rejectKey === undefined) return undefined;
    this.rejected[op] += 1;
    const status = CREDENTIAL_STATUS[this.rejectKey];
    return fail(this.rejectKey, `Dojo answered HTTP ${status}`, status);
  }
}

/**
 * The real ledger behind a switch: while `down`, or for the next `failNext` calls of a method, calls
 * fail with a plain Error (an outage: a dead worker, a full disk), never with a LedgerError.
 */
export class FlakyLedger implements Ledger {
  readonly inner: Ledger;
  down = false;
  /** Calls that failed, per method. */
  readonly failed = new Map<string, number>();
  /** The next calls of a method that fail, per method. */
  readonly failNext = new Map<keyof Ledger, number>();
  /** What a failing call throws. */
  error: () => unknown = () => new Error("disk I/O error");

  constructor(inner: Ledger) {
    this.inner = inner;
  }

  /** Failed calls in all. */
  get failures(): number {
    let n = 0;
    for (const count of this.failed.values()) n += count;
    return n;
  }

  #call<R>(name: keyof Ledger, run: () => Promise<R>): Promise<R> {
    const planned = this.failNext.get(name) ?? 0;
    if (this.down || planned > 0) {
      if (planned > 0) this.failNext.set(name, planned - 1);
      this.failed.set(name, (this.failed.get(name) ?? 0) + 1);
      return Promise.reject(this.error());
    }
    return run();
  }

  begin(...a: Parameters<Ledger["begin"]>) {
    return this.#call("begin", () => this.inner.begin(...a));
  }
  markSubmitting(...a: Parameters<Ledger["markSubmitting"]>) {
    return this.#call("markSubmitting", () => this.inner.markSubmitting(...a));
  }
  markUnknown(...a: Parameters<Ledger["markUnknown"]>) {
    return this.#call("markUnknown", () => this.inner.markUnknown(...a));
  }
  settle(...a: Parameters<Ledger["settle"]>) {
    return this.#call("settle", () => this.inner.settle(...a));
  }
  markPublished(...a: Parameters<Ledger["markPublished"]>) {
    return this.#call("markPublished", () => this.inner.markPublished(...a));
  }
  markParked(...a: Parameters<Ledger["markParked"]>) {
    return this.#call("markParked", () => this.inner.markParked(...a));
  }
  get(...a: Parameters<Ledger["get"]>) {
    return this.#call("get", () => this.inner.get(...a));
  }
  listParked(...a: Parameters<Ledger["listParked"]>) {
    return this.#call("listParked", () => this.inner.listParked(...a));
  }
  settleByHand(...a: Parameters<Ledger["settleByHand"]>) {
    return this.#call("settleByHand", () => this.inner.settleByHand(...a));
  }
  audit(...a: Parameters<Ledger["audit"]>) {
    return this.#call("audit", () => this.inner.audit(...a));
  }
  claimIntent(...a: Parameters<Ledger["claimIntent"]>) {
    return this.#call("claimIntent", () => this.inner.claimIntent(...a));
  }
  renewIntents(...a: Parameters<Ledger["renewIntents"]>) {
    return this.#call("renewIntents", () => this.inner.renewIntents(...a));
  }
  releaseIntent(...a: Parameters<Ledger["releaseIntent"]>) {
    return this.#call("releaseIntent", () => this.inner.releaseIntent(...a));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Every change of the gate's `paused`, in order. */
export function gateLog(gate: IntakeGate): boolean[] {
  const log: boolean[] = [];
  gate.subscribe((paused) => log.push(paused));
  return log;
}

/** Resolves once `condition` holds, checking every millisecond; fails the test after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** A logger whose lines are kept (parsed) for assertions. */
export function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = {
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  return { logger: createLogger({ level: "debug", destination }), lines };
}

/** The outcome of a result that must be "published"; fails the test with the status otherwise. */
export function published(result: MessageResult | undefined): OutcomeEvent {
  if (result?.status !== "published") throw new Error(`expected a published result, got ${result?.status}`);
  return result.outcome;
}

/** The ledger reference of an event. */
export function ref(e: ReturnApprovedEvent): { source: string; eventId: string } {
  return { source: e.source, eventId: e.id };
}
