// The Dojo client the pipeline uses. Every method returns a DojoResult and never throws for an outcome
// Dojo or the network can produce; a throw means a bug (for example calling a closed client).
import { inspect } from "node:util";
import { type Logger, silentLogger } from "../logger.ts";
import type { DojoAccount, DojoAccounts } from "./accounts.ts";
import { type CallContext, type CallSpec, type DojoObserver, runCall } from "./call.ts";
import { type DojoResult, dojoError } from "./errors.ts";
import {
  type CaptureInput,
  type CreatePaymentIntentInput,
  type CreateRefundInput,
  type CreateReversalInput,
  type GetPaymentIntentInput,
  type GetRefundInput,
  paymentIntentBody,
} from "./inputs.ts";
import { DEFAULT_DOJO_API_VERSION, DOJO_LIMITS } from "./limits.ts";
import { type PaymentIntent, paymentIntentSchema } from "./payment-intent.ts";
import {
  checkAmount,
  checkIdempotencyKey,
  checkOptionalText,
  checkPaymentIntentId,
  checkRefundId,
  type Problems,
} from "./request-checks.ts";
import {
  type CreatedCapture,
  type CreatedRefund,
  type CreatedReversal,
  type RetrievedRefund,
  readCapture,
  readRefund,
  readRetrievedRefund,
  readReversal,
} from "./responses.ts";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.ts";
import { DEFAULT_TIMEOUTS, type DojoTimeouts, DojoTransport } from "./transport.ts";

export interface DojoClientOptions {
  readonly baseUrl: string;
  /** Sent as the `version` header; Dojo marks it required on every operation. */
  readonly apiVersion?: string;
  readonly accounts: DojoAccounts;
  readonly timeouts?: Partial<DojoTimeouts>;
  readonly retry?: Partial<RetryPolicy>;
  /** Keep-alive connections per account pool. */
  readonly connections?: number;
  readonly logger?: Logger;
  /** Source of jitter; tests pass a fixed function. */
  readonly random?: () => number;
  /** Hears of every HTTP request (metrics). */
  readonly observer?: DojoObserver;
}

export interface DojoClient {
  createRefund(input: CreateRefundInput): Promise<DojoResult<CreatedRefund>>;
  getRefund(input: GetRefundInput): Promise<DojoResult<RetrievedRefund>>;
  getPaymentIntent(input: GetPaymentIntentInput): Promise<DojoResult<PaymentIntent>>;
  createReversal(input: CreateReversalInput): Promise<DojoResult<CreatedReversal>>;
  createPaymentIntent(input: CreatePaymentIntentInput): Promise<DojoResult<PaymentIntent>>;
  capture(input: CaptureInput): Promise<DojoResult<CreatedCapture>>;
  close(): Promise<void>;
}

export function createDojoClient(options: DojoClientOptions): DojoClient {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const base = new URL(options.baseUrl);
  const ctx: CallContext = {
    transport: new DojoTransport(options.baseUrl, timeouts, options.connections ?? 16),
    server: {
      address: base.hostname,
      port: Number(base.port) || (base.protocol === "https:" ? 443 : 80),
      base: `${base.origin}${base.pathname.replace(/\/+$/, "")}`,
    },
    observer: options.observer,
    accounts: options.accounts,
    policy: { ...DEFAULT_RETRY, ...options.retry },
    random: options.random ?? Math.random,
    logger: options.logger ?? silentLogger,
  };
  const version = options.apiVersion ?? DEFAULT_DOJO_API_VERSION;

  // Dojo expects the raw secret key after "Basic " (not base64 of "key:" as in standard Basic auth).
  function headers(account: DojoAccount, json: boolean): Record<string, string> {
    const h: Record<string, string> = {
      authorization: account.authorization(),
      version,
      accept: "application/json",
    };
    if (json) h["content-type"] = "application/json";
    return h;
  }

  async function call<T>(
    merchantId: string | undefined,
    problems: Problems,
    build: (account: DojoAccount) => Omit<CallSpec<T>, "account" | "merchantId">,
  ): Promise<DojoResult<T>> {
    if (problems.length > 0) {
      return { ok: false, error: dojoError("invalid_request", problems.join("; ")), attempts: 0 };
    }
    const account = ctx.accounts.resolve(merchantId);
    if (account === undefined) {
      const who = merchantId === undefined ? "no merchant id given" : `merchant "${merchantId}"`;
      return { ok: false, error: dojoError("unknown_merchant", `no Dojo API key for ${who}`), attempts: 0 };
    }
    return runCall(ctx, { ...build(account), account, merchantId });
  }

  const client: DojoClient = {
    createRefund(input) {
      const problems: Problems = [];
      checkPaymentIntentId(input.paymentIntentId, problems);
      checkAmount("amount", input.amount, problems);
      checkOptionalText("refundReason", input.refundReason, DOJO_LIMITS.refundReasonMax, problems);
      checkOptionalText("notes", input.notes, DOJO_LIMITS.notesMax, problems);
      checkIdempotencyKey(input.idempotencyKey, problems);
      return call(input.merchantId, problems, (account) => ({
        operation: "createRefund",
        template: "/payment-intents/{paymentIntentId}/refunds",
        method: "POST",
        path: `/payment-intents/${encodeURIComponent(input.paymentIntentId)}/refunds`,
        headers: { ...headers(account, true), idempotencyKey: input.idempotencyKey },
        body: JSON.stringify({ amount: input.amount, refundReason: input.refundReason, notes: input.notes }),
        idempotencyKey: input.idempotencyKey,
        signal: input.signal,
        trace: input.trace,
        // Safe to resend: Dojo recognises a retry by its idempotency key, which never changes here.
        retry: "unless-definitive",
        read: readRefund,
      }));
    },

    getRefund(input) {
      const problems: Problems = [];
      checkRefundId(input.refundId, problems);
      return call(input.merchantId, problems, (account) => ({
        operation: "getRefund",
        template: "/payment-intents/refunds/{refundId}",
        method: "GET",
        path: `/payment-intents/refunds/${encodeURIComponent(input.refundId)}`,
        headers: headers(account, false),
        signal: input.signal,
        trace: input.trace,
        retry: "unless-definitive",
        read: readRetrievedRefund,
      }));
    },

    getPaymentIntent(input) {
      const problems: Problems = [];
      checkPaymentIntentId(input.paymentIntentId, problems);
      return call(input.merchantId, problems, (account) => ({
        operation: "getPaymentIntent",
        template: "/payment-intents/{paymentIntentId}",
        method: "GET",
        path: `/payment-intents/${encodeURIComponent(input.paymentIntentId)}`,
        headers: headers(account, false),
        signal: input.signal,
        trace: input.trace,
        retry: "unless-definitive",
        read: readIntent,
      }));
    },

    createReversal(input) {
      const problems: Problems = [];
      checkPaymentIntentId(input.paymentIntentId, problems);
      // Dojo's reversal has no body and no idempotency header, so no content type either.
      return call(input.merchantId, problems, (account) => ({
        operation: "createReversal",
        template: "/payment-intents/{paymentIntentId}/reversal",
        method: "POST",
        path: `/payment-intents/${encodeURIComponent(input.paymentIntentId)}/reversal`,
        headers: headers(account, false),
        signal: input.signal,
        trace: input.trace,
        retry: "only-unsent",
        read: readReversal,
      }));
    },

    createPaymentIntent(input) {
      const problems: Problems = [];
      const body = paymentIntentBody(input, problems);
      return call(input.merchantId, problems, (account) => ({
        operation: "createPaymentIntent",
        template: "/payment-intents",
        method: "POST",
        path: "/payment-intents",
        headers: headers(account, true),
        body: JSON.stringify(body),
        signal: input.signal,
        trace: input.trace,
        retry: "only-unsent",
        read: readIntent,
      }));
    },

    capture(input) {
      const problems: Problems = [];
      checkPaymentIntentId(input.paymentIntentId, problems);
      checkAmount("amount", input.amount, problems);
      if (input.tipsAmount !== undefined) checkAmount("tipsAmount", input.tipsAmount, problems);
      return call(input.merchantId, problems, (account) => ({
        operation: "capture",
        template: "/payment-intents/{paymentIntentId}/captures",
        method: "POST",
        path: `/payment-intents/${encodeURIComponent(input.paymentIntentId)}/captures`,
        headers: headers(account, true),
        body: JSON.stringify({ amount: input.amount, tipsAmount: input.tipsAmount }),
        signal: input.signal,
        trace: input.trace,
        retry: "only-unsent",
        read: readCapture,
      }));
    },

    close: () => ctx.transport.close(),
  };
  Object.defineProperty(client, inspect.custom, { value: () => `DojoClient(${options.baseUrl})` });
  Object.defineProperty(client, "toJSON", { value: () => ({ dojoClient: options.baseUrl }) });
  return client;
}

function readIntent(json: unknown): PaymentIntent | undefined {
  const parsed = paymentIntentSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
