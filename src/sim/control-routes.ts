// Test-only routes under /_sim/: shortcuts into the simulator's state, its counters and its faults.
// They take no API key; the simulator listens on 127.0.0.1 by default.
import { z } from "zod";
import type { SimKeys } from "./auth.ts";
import { type FaultInjector, faultConfigSchema } from "./faults.ts";
import type { IdempotencyStore } from "./idempotency.ts";
import { ok, problem, type SimReply, validationProblem } from "./problems.ts";
import type { RequestLog } from "./request-log.ts";
import { intentJson, type SimState } from "./state.ts";

export interface ControlDeps {
  readonly keys: SimKeys;
  readonly state: SimState;
  readonly idempotency: IdempotencyStore;
  readonly faults: FaultInjector;
  readonly log: RequestLog;
  readonly startedAt: number;
}

export const simIntentSchema = z.strictObject({
  amount: z.number().int().positive(),
  currencyCode: z.enum(["GBP", "EUR"]).default("GBP"),
  captureMode: z.enum(["Auto", "Manual"]).default("Auto"),
  /** Created, Authorized (Manual only) or Captured (Manual intents get one full capture). */
  status: z.enum(["Created", "Authorized", "Captured"]).default("Created"),
  reference: z.string().min(1).max(60).default("sim"),
  sandbox: z.boolean().default(true),
  count: z.number().int().min(1).max(100_000).default(1),
});

export function handleControl(
  deps: ControlDeps,
  method: string,
  pathname: string,
  query: URLSearchParams,
  bodyText: string,
): SimReply {
  const parts = pathname.split("/").slice(2).map(safeDecode);
  const [first, second, third] = parts;
  const template = parts.length === 1 ? first : parts.length === 2 ? `${first}/:id` : `${first}/:id/${third}`;
  const route = `${method} ${template}`;
  switch (route) {
    case "POST payment-intents":
      return createIntents(deps, bodyText);
    case "POST payment-intents/:id/pay": {
      const intent = deps.state.intents.get(second ?? "");
      if (intent === undefined) return problem(404, "Not Found", "No such payment intent.");
      if (!deps.state.pay(intent)) return problem(409, "Conflict", `The payment intent is ${intent.status}.`);
      return ok(intentJson(intent));
    }
    case "GET payment-intents/:id/refunds": {
      const intent = deps.state.intents.get(second ?? "");
      if (intent === undefined) return problem(404, "Not Found", "No such payment intent.");
      const refunds = intent.refundIds.map((id) => deps.state.refunds.get(id));
      return ok({
        paymentIntentId: intent.id,
        status: intent.status,
        refundedAmount: intent.refundedAmount,
        refunds,
      });
    }
    case "GET idempotency/:id": {
      const c = deps.idempotency.peek(second ?? "");
      return ok({ key: second, requests: 0, refundsCreated: 0, replays: 0, conflicts: 0, ...c });
    }
    case "GET stats":
      return ok(stats(deps));
    case "GET requests": {
      const limit = Number(query.get("limit") ?? "1000");
      const filter: { idempotencyKey?: string; route?: string; limit: number } = {
        limit: Number.isFinite(limit) && limit > 0 ? limit : 1000,
      };
      const key = query.get("idempotencyKey");
      const r = query.get("route");
      if (key !== null) filter.idempotencyKey = key;
      if (r !== null) filter.route = r;
      return ok({ total: deps.log.total, requests: deps.log.list(filter) });
    }
    case "GET keys":
      return ok({ keys: deps.keys.status });
    case "POST keys/:id":
      if (second === "revoke" || second === "restore") return changeKey(deps, second, bodyText);
      break;
    case "GET faults":
      return ok(deps.faults.config);
    case "PUT faults":
      return configureFaults(deps, bodyText);
    case "DELETE faults":
      deps.faults.clear();
      return ok(deps.faults.config);
    case "POST reset":
      deps.state.clear();
      deps.idempotency.clear();
      deps.log.clear();
      deps.faults.clear();
      deps.keys.restoreAll();
      return ok({ reset: true });
  }
  return problem(404, "Not Found", "No such simulator route.");
}

function createIntents(deps: ControlDeps, bodyText: string): SimReply {
  const parsed = simIntentSchema.safeParse(parseJson(bodyText));
  if (!parsed.success) return validationProblem(zodErrors(parsed.error));
  const o = parsed.data;
  if (o.status === "Authorized" && o.captureMode !== "Manual") {
    return validationProblem({ status: ["only Manual intents stop at Authorized"] });
  }
  const ids: string[] = [];
  for (let i = 0; i < o.count; i++) {
    const intent = deps.state.createIntent({
      amount: o.amount,
      currencyCode: o.currencyCode,
      captureMode: o.captureMode,
      reference: o.reference,
      description: null,
      sandbox: o.sandbox,
    });
    if (o.status !== "Created") deps.state.pay(intent);
    if (o.status === "Captured" && o.captureMode === "Manual") deps.state.capture(intent, o.amount, null);
    ids.push(intent.id);
  }
  return ok({ ids });
}

/** Names the key by its raw value or by its fingerprint (`key_` + 12 hex digits), exactly one of them. */
const keyRefSchema = z.union([
  z.strictObject({ key: z.string().min(1) }),
  z.strictObject({ fingerprint: z.string().min(1) }),
]);

function changeKey(deps: ControlDeps, action: "revoke" | "restore", bodyText: string): SimReply {
  const parsed = keyRefSchema.safeParse(parseJson(bodyText));
  if (!parsed.success) {
    return validationProblem({ $: ['give exactly one of "key" or "fingerprint"'] });
  }
  const ref = "key" in parsed.data ? parsed.data.key : parsed.data.fingerprint;
  const fingerprint = deps.keys.find(ref);
  // The reply names the key by fingerprint only: the raw key must not travel back, even here.
  if (fingerprint === undefined) return problem(404, "Not Found", "The simulator has no such API key.");
  if (action === "revoke") deps.keys.revoke(fingerprint);
  else deps.keys.restore(fingerprint);
  return ok({ fingerprint, revoked: action === "revoke" });
}

function configureFaults(deps: ControlDeps, bodyText: string): SimReply {
  const parsed = faultConfigSchema.safeParse(parseJson(bodyText));
  if (!parsed.success) return validationProblem(zodErrors(parsed.error));
  deps.faults.configure(parsed.data);
  return ok(deps.faults.config);
}

function stats(deps: ControlDeps): Record<string, unknown> {
  return {
    uptimeMs: Date.now() - deps.startedAt,
    intents: deps.state.intents.size,
    refundsCreated: deps.state.refundsCreated,
    refundedAmountTotal: deps.state.refundedTotal,
    idempotencyKeysInFlight: deps.idempotency.inFlight,
    requestsTotal: deps.log.total,
    requestsByRoute: deps.log.byRoute,
    responsesByOutcome: deps.log.byOutcome,
    faultsInjected: deps.log.faults,
  };
}

function zodErrors(error: z.ZodError): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const field = issue.path.join(".") || "$";
    out[field] = [...(out[field] ?? []), issue.message];
  }
  return out;
}

function parseJson(text: string): unknown {
  try {
    return text === "" ? {} : JSON.parse(text);
  } catch {
    return undefined;
  }
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
