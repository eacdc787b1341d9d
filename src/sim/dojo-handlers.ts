// Handlers for Dojo's own paths. Each waits for the injected latency at the point where a real server
// would be busy, then applies Dojo's rules to the in-memory state.
import { DOJO_LIMITS } from "../dojo/limits.ts";
import { captureSchema, checkBody, createPaymentIntentSchema, createRefundSchema } from "./body-checks.ts";
import type { IdempotencyStore } from "./idempotency.ts";
import { ok, problem, type SimReply, validationProblem } from "./problems.ts";
import type { DojoRoute } from "./routes.ts";
import { intentJson, refundJson, type SimState } from "./state.ts";

export interface DojoRequest {
  readonly id: string | undefined;
  /** Key fingerprint of the calling account; scopes idempotency keys. */
  readonly account: string;
  readonly sandbox: boolean;
  readonly body: unknown;
  readonly idempotencyKey: string | undefined;
  /** Resolves after the injected latency. */
  readonly wait: () => Promise<void>;
}

export interface DojoHandlerDeps {
  readonly state: SimState;
  readonly idempotency: IdempotencyStore;
}

type Handler = (deps: DojoHandlerDeps, req: DojoRequest) => Promise<SimReply>;

// Dojo accepts GBP and EUR from API version 2024-02-05 on.
const CURRENCIES = new Set(["GBP", "EUR"]);

const notFound = (what: string) => problem(404, "Not Found", `${what} was not found`);
const positive = (field: string, v: unknown) =>
  typeof v === "number" && v <= 0 ? validationProblem({ [field]: ["must be greater than 0"] }) : undefined;

const createRefund: Handler = async ({ state, idempotency }, req) => {
  const key = req.idempotencyKey;
  if (key === undefined || key === "") return validationProblem({ idempotencyKey: ["is required"] });
  if (key.length > DOJO_LIMITS.idempotencyKeyMax) {
    return validationProblem({
      idempotencyKey: [`must be at most ${DOJO_LIMITS.idempotencyKeyMax} characters`],
    });
  }
  const errors = checkBody(req.body, createRefundSchema);
  if (errors) return validationProblem(errors);
  const body = req.body as { amount: number; refundReason?: string | null; notes?: string | null };
  const bad = positive("amount", body.amount);
  if (bad) return bad;
  const b = req.body as Record<string, unknown>;
  const fingerprint = JSON.stringify([
    req.id,
    b.amount,
    b.refundReason ?? null,
    b.notes ?? null,
    b.previousTransactionId ?? null,
  ]);
  const admission = idempotency.admit(req.account, key, fingerprint);
  if (admission.kind === "in-flight") {
    return problem(
      409,
      "Idempotency key in flight",
      "A request with this idempotencyKey is still being processed.",
    );
  }
  if (admission.kind === "mismatch") {
    return problem(
      409,
      "Idempotency key reused",
      "This idempotencyKey was already used for a different request.",
    );
  }
  await req.wait();
  if (admission.kind === "replay") return ok(admission.response);
  const reply = applyRefund(state, req, key, body);
  if (reply.status === 200) idempotency.settle(req.account, key, reply.body);
  else idempotency.release(req.account, key);
  return reply;
};

function applyRefund(
  state: SimState,
  req: DojoRequest,
  key: string,
  body: { amount: number; refundReason?: string | null; notes?: string | null },
): SimReply {
  const intent = state.intents.get(req.id ?? "");
  if (intent === undefined) return notFound("The payment intent");
  // Dojo: only captured payments can be refunded; uncaptured ones must be reversed.
  if (intent.status !== "Captured" && intent.status !== "Refunded") {
    return problem(
      409,
      "Payment intent not refundable",
      `The payment intent is ${intent.status}, not Captured.`,
    );
  }
  const remaining = state.captured(intent) - intent.refundedAmount;
  // Dojo: the total refunded may not exceed the original (captured) amount.
  if (body.amount > remaining) {
    return validationProblem({ amount: [`exceeds the refundable amount of ${remaining}`] });
  }
  const refund = state.refund(intent, {
    amount: body.amount,
    refundReason: body.refundReason ?? null,
    notes: body.notes ?? null,
    idempotencyKey: key,
  });
  return ok(refundJson(refund));
}

const getRefund: Handler = async ({ state }, req) => {
  if ((req.id ?? "").length > 50) return validationProblem({ refundId: ["must be at most 50 characters"] });
  await req.wait();
  const refund = state.refunds.get(req.id ?? "");
  return refund === undefined ? notFound("The refund") : ok(refundJson(refund));
};

const getPaymentIntent: Handler = async ({ state }, req) => {
  await req.wait();
  const intent = state.intents.get(req.id ?? "");
  return intent === undefined ? notFound("The payment intent") : ok(intentJson(intent));
};

const createPaymentIntent: Handler = async ({ state }, req) => {
  const errors = checkBody(req.body, createPaymentIntentSchema);
  if (errors) return validationProblem(errors);
  const body = req.body as {
    amount: { value: number; currencyCode: string };
    reference: string;
    captureMode?: "Auto" | "Manual";
    description?: string | null;
  };
  if (!CURRENCIES.has(body.amount.currencyCode)) {
    return validationProblem({ "amount.currencyCode": ["must be GBP or EUR"] });
  }
  const bad = positive("amount.value", body.amount.value);
  if (bad) return bad;
  await req.wait();
  const intent = state.createIntent({
    amount: body.amount.value,
    currencyCode: body.amount.currencyCode,
    captureMode: body.captureMode ?? "Auto",
    reference: body.reference,
    description: body.description ?? null,
    sandbox: req.sandbox,
  });
  return ok(intentJson(intent));
};

const capture: Handler = async ({ state }, req) => {
  const errors = checkBody(req.body, captureSchema);
  if (errors) return validationProblem(errors);
  const body = req.body as { amount: number; tipsAmount?: number | null };
  const bad = positive("amount", body.amount);
  if (bad) return bad;
  await req.wait();
  const intent = state.intents.get(req.id ?? "");
  if (intent === undefined) return notFound("The payment intent");
  if (intent.captureMode !== "Manual")
    return problem(409, "Conflict", "Only Manual payment intents are captured.");
  // Dojo: only intents that have not been refunded or reversed can be captured.
  if ((intent.status !== "Authorized" && intent.status !== "Captured") || intent.refundedAmount > 0) {
    return problem(409, "Conflict", `A ${intent.status} payment intent cannot be captured.`);
  }
  const capturedSoFar = intent.captures.reduce((sum, c) => sum + c.amount, 0);
  if (capturedSoFar + body.amount > intent.amount.value) {
    return validationProblem({
      amount: [`exceeds the uncaptured amount of ${intent.amount.value - capturedSoFar}`],
    });
  }
  const created = state.capture(intent, body.amount, body.tipsAmount ?? null);
  return ok({ message: "Capture created", captureId: created.id });
};

const createReversal: Handler = async ({ state }, req) => {
  if (req.body !== undefined) return validationProblem({ $: ["the reversal request has no body"] });
  await req.wait();
  const intent = state.intents.get(req.id ?? "");
  if (intent === undefined) return notFound("The payment intent");
  // Dojo's reversal table: Auto only when Captured, Manual only when Authorized; never once refunded.
  const allowed =
    intent.refundedAmount === 0 &&
    ((intent.captureMode === "Auto" && intent.status === "Captured") ||
      (intent.captureMode === "Manual" && intent.status === "Authorized"));
  if (!allowed) {
    return problem(
      409,
      "Conflict",
      `A ${intent.captureMode} payment intent in status ${intent.status} cannot be reversed.`,
    );
  }
  return ok({ message: "Payment intent reversed", reversalId: state.reverse(intent) });
};

export const DOJO_HANDLERS: Record<DojoRoute, Handler> = {
  createPaymentIntent,
  getPaymentIntent,
  capture,
  createRefund,
  getRefund,
  createReversal,
};

/** Routes whose requests carry a JSON body. */
export const ROUTES_WITH_BODY: ReadonlySet<DojoRoute> = new Set([
  "createPaymentIntent",
  "capture",
  "createRefund",
]);
