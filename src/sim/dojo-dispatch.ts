// One request on a Dojo path: route, injected fault, authentication, version, body, handler, reply.
import type { IncomingMessage, ServerResponse } from "node:http";
import { DOJO_API_VERSIONS } from "../dojo/limits.ts";
import type { SimKeys } from "./auth.ts";
import { DOJO_HANDLERS, type DojoHandlerDeps, ROUTES_WITH_BODY } from "./dojo-handlers.ts";
import type { FaultDecision, FaultInjector } from "./faults.ts";
import { header, sendReply, sleep } from "./http-io.ts";
import { problem, type SimReply, validationProblem } from "./problems.ts";
import type { RequestLog } from "./request-log.ts";
import { matchDojoRoute } from "./routes.ts";

export interface DispatchDeps extends DojoHandlerDeps {
  readonly keys: SimKeys;
  readonly faults: FaultInjector;
  readonly log: RequestLog;
}

const VERSIONS: ReadonlySet<string> = new Set(DOJO_API_VERSIONS);
const noWait = () => Promise.resolve();

export async function dispatchDojo(
  deps: DispatchDeps,
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  bodyText: string,
): Promise<void> {
  const started = performance.now();
  const method = req.method ?? "GET";
  const match = matchDojoRoute(method, pathname);
  const idempotencyKey = header(req, "idempotencykey") ?? null;
  const entry = {
    method,
    path: pathname,
    route: "unmatched",
    idempotencyKey,
    traceparent: header(req, "traceparent") ?? null,
    account: null as string | null,
  };
  const finish = (outcome: number | "dropped" | "hang", fault: string | null) =>
    deps.log.record({ ...entry, outcome, fault, durationMs: Math.round(performance.now() - started) });

  if (match.kind !== "route") {
    const reply =
      match.kind === "method-not-allowed"
        ? problem(405, "Method Not Allowed")
        : match.kind === "bad-id"
          ? validationProblem({ id: ["is not a valid path segment"] })
          : problem(404, "Not Found", "No such path.");
    sendReply(res, reply);
    finish(reply.status, null);
    return;
  }
  entry.route = match.route;
  if (match.route === "createRefund" && idempotencyKey !== null)
    deps.idempotency.counters(idempotencyKey).requests++;

  const auth = deps.keys.authenticate(header(req, "authorization"));
  if (auth.account !== undefined) entry.account = auth.account;

  const decision = deps.faults.decide(match.route);
  if (decision.fault === "hang") {
    // No response at all: the client's own deadline must end the exchange. Nothing is applied.
    finish("hang", "hang");
    return;
  }
  if (decision.fault !== "ok" && decision.fault !== "drop_after_apply") {
    if (decision.latencyMs > 0) await sleep(decision.latencyMs);
    const reply = injectedError(decision);
    sendReply(res, reply);
    finish(reply.status, decision.fault);
    return;
  }

  const reply = auth.ok ? await handle(deps, req, match, auth, bodyText, decision) : auth.reply;
  if (decision.fault === "drop_after_apply") {
    // The work is done (a refund exists), but the client never learns it: the socket dies.
    res.destroy();
    finish("dropped", decision.fault);
    return;
  }
  if (!auth.ok && decision.latencyMs > 0) await sleep(decision.latencyMs);
  sendReply(res, reply);
  finish(reply.status, null);
}

async function handle(
  deps: DispatchDeps,
  req: IncomingMessage,
  match: { route: keyof typeof DOJO_HANDLERS; id?: string },
  auth: { account: string; sandbox: boolean },
  bodyText: string,
  decision: FaultDecision,
): Promise<SimReply> {
  // Dojo marks the `version` header (yyyy-mm-dd) required on every operation.
  const version = header(req, "version");
  if (version === undefined) return validationProblem({ version: ["The version header is required."] });
  if (!VERSIONS.has(version))
    return validationProblem({ version: [`Unsupported API version "${version}".`] });

  let body: unknown;
  if (ROUTES_WITH_BODY.has(match.route)) {
    const contentType = header(req, "content-type")?.split(";")[0]?.trim().toLowerCase();
    if (contentType !== "application/json") {
      return validationProblem({ "content-type": ["must be application/json"] });
    }
    try {
      body = JSON.parse(bodyText);
    } catch {
      return validationProblem({ $: ["the body is not valid JSON"] });
    }
  } else if (bodyText.length > 0) {
    body = bodyText;
  }
  const wait = decision.latencyMs > 0 ? () => sleep(decision.latencyMs) : noWait;
  return DOJO_HANDLERS[match.route](deps, {
    id: match.id,
    account: auth.account,
    sandbox: auth.sandbox,
    body,
    idempotencyKey: header(req, "idempotencykey"),
    wait,
  });
}

function injectedError(decision: FaultDecision): SimReply {
  switch (decision.fault) {
    case "429":
      return problem(429, "Too Many Requests", "Injected rate limit.", undefined, {
        "retry-after": String(decision.retryAfterSeconds),
      });
    case "502":
      return problem(502, "Bad Gateway", "Injected fault.");
    case "503":
      return problem(503, "Service Unavailable", "Injected fault.");
    default:
      return problem(500, "Internal Server Error", "Injected fault.");
  }
}
