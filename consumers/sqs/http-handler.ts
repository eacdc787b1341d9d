// The SQS client's HTTP transport: undici keep-alive pools (one per origin) in place of the AWS SDK's
// default handler on node:http. Every SQS call is one small HTTP exchange, and on a local endpoint the
// exchange costs more CPU than the SDK's own work on the call (serialising, signing, parsing). undici
// does it without node:http's request objects and listeners and the default handler's timers per
// request: about 15% less CPU per batch call in a loop against a local endpoint (the relay as a whole
// spends most of its CPU elsewhere). What the SDK decides stays the SDK's: retries, signing, errors.
// Network failures are handed back with the names and codes the SDK's retry strategy knows from
// node:http (ECONNRESET, ETIMEDOUT, TimeoutError), so they are retried as before.
import { Pool } from "undici";

/** The parts of the SDK's HTTP request the transport reads (it is built and signed by the SDK). */
export interface SdkHttpRequest {
  readonly method: string;
  readonly protocol: string;
  readonly hostname: string;
  readonly port?: number | undefined;
  readonly path: string;
  readonly query?: Record<string, string | Array<string | null> | null> | undefined;
  readonly fragment?: string | undefined;
  readonly headers: Record<string, string>;
  readonly body?: unknown;
}

/** What the SDK's deserialisers read from a response. */
export interface SdkHttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

export interface UndiciHandlerOptions {
  /** Keep-alive connections per origin (long polls and batch calls together). */
  readonly connections: number;
  readonly connectTimeoutMs: number;
}

/**
 * Longest wait for a response's headers, and between two chunks of its body: far above the longest
 * long poll (20 s); as with the SDK's default socket timeout for SQS, only a dead connection reaches it.
 */
const RESPONSE_TIMEOUT_MS = 900_000;

/** undici's error codes, as the SDK's retry strategy knows them from node:http. */
const TRANSIENT: Readonly<Record<string, { name?: string; code: string }>> = {
  UND_ERR_SOCKET: { code: "ECONNRESET" },
  UND_ERR_CONNECT_TIMEOUT: { name: "TimeoutError", code: "ETIMEDOUT" },
  UND_ERR_HEADERS_TIMEOUT: { name: "TimeoutError", code: "ETIMEDOUT" },
  UND_ERR_BODY_TIMEOUT: { name: "TimeoutError", code: "ETIMEDOUT" },
};

function sdkError(error: unknown): unknown {
  const mapped = TRANSIENT[(error as { code?: string } | undefined)?.code ?? ""];
  if (mapped === undefined) return error;
  const message = (error as Error).message;
  return Object.assign(new Error(message, { cause: error }), {
    name: mapped.name ?? "Error",
    code: mapped.code,
  });
}

function queryString(query: NonNullable<SdkHttpRequest["query"]>): string {
  const params = new URLSearchParams();
  for (const key in query) {
    const value = query[key];
    if (value === null || value === undefined) params.append(key, "");
    else if (Array.isArray(value)) for (const v of value) params.append(key, v ?? "");
    else params.append(key, value);
  }
  return params.toString().replace(/\+/g, "%20");
}

export class UndiciHttpHandler {
  readonly metadata = { handlerProtocol: "http/1.1" };
  readonly #o: UndiciHandlerOptions;
  readonly #pools = new Map<string, Pool>();
  #destroyed = false;

  constructor(options: UndiciHandlerOptions) {
    this.#o = options;
  }

  async handle(
    request: SdkHttpRequest,
    // The SDK types its signal as its own interface; what it passes on is the caller's AbortSignal.
    options: { readonly abortSignal?: unknown } = {},
  ): Promise<{ response: SdkHttpResponse }> {
    let path = request.path;
    if (request.query !== undefined) {
      const query = queryString(request.query);
      if (query !== "") path += `?${query}`;
    }
    if (request.fragment) path += `#${request.fragment}`;
    const body = request.body;
    try {
      const res = await this.#pool(request).request({
        method: request.method as "POST",
        path,
        headers: request.headers,
        body: (body ?? null) as string | Uint8Array | null,
        signal: (options.abortSignal as AbortSignal | undefined) ?? null,
      });
      const headers: Record<string, string> = {};
      for (const name in res.headers) {
        const value = res.headers[name];
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
      }
      return { response: { statusCode: res.statusCode, headers, body: await res.body.bytes() } };
    } catch (error) {
      throw sdkError(error);
    }
  }

  updateHttpClientConfig(): void {
    // Nothing of the SDK's handler settings applies: the pools are configured once, above.
  }

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    this.#destroyed = true;
    for (const pool of this.#pools.values()) void pool.destroy();
    this.#pools.clear();
  }

  #pool(request: SdkHttpRequest): Pool {
    if (this.#destroyed) throw new Error("the SQS client was destroyed");
    const port = request.port === undefined ? "" : `:${request.port}`;
    const host =
      request.hostname.includes(":") && !request.hostname.startsWith("[")
        ? `[${request.hostname}]`
        : request.hostname;
    const origin = `${request.protocol}//${host}${port}`;
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: this.#o.connections,
        connectTimeout: this.#o.connectTimeoutMs,
        headersTimeout: RESPONSE_TIMEOUT_MS,
        bodyTimeout: RESPONSE_TIMEOUT_MS,
        keepAliveTimeout: 20_000,
        pipelining: 1,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }
}
