// Fault injection per route. Each route draws from its own seeded stream, so a given seed and request
// order give the same faults on every run. A `script` is consumed first, one entry per request, for
// tests that need an exact sequence; after it runs out the rates apply.
import { z } from "zod";
import { type Rng, seededRng, seedFor } from "./rng.ts";
import { DOJO_ROUTES, type DojoRoute } from "./routes.ts";

export const FAULT_NAMES = ["ok", "500", "502", "503", "429", "hang", "drop_after_apply"] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

const rate = z.number().min(0).max(1);
const routeFaultsSchema = z.strictObject({
  /** Uniform latency in [min, max] ms; a spike adds `spikeMs` with probability `spikeRate`. */
  latencyMs: z
    .strictObject({
      min: z.number().min(0).default(0),
      max: z.number().min(0).default(0),
      spikeRate: rate.default(0),
      spikeMs: z.number().min(0).default(0),
    })
    .optional(),
  error500Rate: rate.optional(),
  error502Rate: rate.optional(),
  error503Rate: rate.optional(),
  rateLimitRate: rate.optional(),
  retryAfterSeconds: z.number().int().min(0).max(3600).default(1),
  hangRate: rate.optional(),
  dropAfterApplyRate: rate.optional(),
  script: z.array(z.enum(FAULT_NAMES)).max(10_000).optional(),
});

export const faultConfigSchema = z.strictObject({
  seed: z.number().int().optional(),
  /** Keys are route names (createRefund, getPaymentIntent, ...) or "*" for every Dojo route. */
  routes: z.partialRecord(z.enum([...DOJO_ROUTES, "*"]), routeFaultsSchema).default({}),
});

export type FaultConfig = z.infer<typeof faultConfigSchema>;
type RouteFaults = z.infer<typeof routeFaultsSchema>;
/** The accepted input: every field optional, defaults filled in by the simulator. */
export type FaultConfigInput = z.input<typeof faultConfigSchema>;

export interface FaultDecision {
  readonly fault: FaultName;
  readonly latencyMs: number;
  readonly retryAfterSeconds: number;
}

const NO_FAULT: FaultDecision = { fault: "ok", latencyMs: 0, retryAfterSeconds: 0 };

export class FaultInjector {
  #seed: number;
  #config: FaultConfig = { routes: {} };
  #scripts = new Map<DojoRoute, FaultName[]>();
  #rngs = new Map<DojoRoute, Rng>();
  #active = false;

  constructor(seed: number) {
    this.#seed = seed;
  }

  get config(): FaultConfig {
    return this.#config;
  }

  configure(config: FaultConfig): void {
    if (config.seed !== undefined) this.#seed = config.seed;
    this.#config = config;
    this.#scripts.clear();
    this.#rngs.clear();
    this.#active = Object.keys(config.routes).length > 0;
  }

  clear(): void {
    this.configure({ routes: {} });
  }

  decide(route: DojoRoute): FaultDecision {
    if (!this.#active) return NO_FAULT;
    const faults = this.#config.routes[route] ?? this.#config.routes["*"];
    if (faults === undefined) return NO_FAULT;
    const rng = this.#rng(route);
    const latencyMs = latency(faults, rng);
    const scripted = this.#nextScripted(route, faults);
    const fault = scripted ?? draw(faults, rng);
    return { fault, latencyMs, retryAfterSeconds: faults.retryAfterSeconds };
  }

  #nextScripted(route: DojoRoute, faults: RouteFaults): FaultName | undefined {
    if (faults.script === undefined) return undefined;
    let queue = this.#scripts.get(route);
    if (queue === undefined) {
      queue = [...faults.script];
      this.#scripts.set(route, queue);
    }
    return queue.shift();
  }

  #rng(route: DojoRoute): Rng {
    let rng = this.#rngs.get(route);
    if (rng === undefined) {
      rng = seededRng(seedFor(this.#seed, route));
      this.#rngs.set(route, rng);
    }
    return rng;
  }
}

function latency(faults: RouteFaults, rng: Rng): number {
  const l = faults.latencyMs;
  if (l === undefined) return 0;
  const base = l.min + rng() * Math.max(0, l.max - l.min);
  const spike = l.spikeRate > 0 && rng() < l.spikeRate ? l.spikeMs : 0;
  return Math.round(base + spike);
}

/** One draw picks at most one fault; the rates add up along a single [0, 1) line. */
function draw(faults: RouteFaults, rng: Rng): FaultName {
  const x = rng();
  let edge = 0;
  const table: [FaultName, number | undefined][] = [
    ["500", faults.error500Rate],
    ["502", faults.error502Rate],
    ["503", faults.error503Rate],
    ["429", faults.rateLimitRate],
    ["hang", faults.hangRate],
    ["drop_after_apply", faults.dropAfterApplyRate],
  ];
  for (const [name, r] of table) {
    edge += r ?? 0;
    if (x < edge) return name;
  }
  return "ok";
}
