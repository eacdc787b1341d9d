// One undici keep-alive pool per Dojo account (keyed by key fingerprint, never by the key), and one
// HTTP exchange with real deadlines: connect, headers and body timeouts in undici, plus a total
// deadline through an AbortSignal that destroys the socket when it fires.
import type { IncomingHttpHeaders } from "node:http";
import { type Dispatcher, Pool } from "undici";
import type { DojoAccount } from "./accounts.ts";
import type { DojoError } from "./errors.ts";
import { classifyTransportError } from "./transport-errors.ts";

export interface DojoTimeouts {
  /** TCP/TLS connect; failure here means nothing was sent. */
  readonly connectMs: number;
  /** From sending the request to the end of the response headers. */
  readonly headersMs: number;
  /** Longest gap between two chunks of the response body. */
  readonly bodyMs: number;
  /** Whole attempt, whatever phase it is in. */
  readonly totalMs: number;
}

export const DEFAULT_TIMEOUTS: DojoTimeouts = {
  connectMs: 5_000,
  headersMs: 15_000,
  bodyMs: 10_000,
  totalMs: 30_000,
};

const MAX_RESPONSE_BYTES = 1_048_576;

export interface HttpRequest {
  readonly account: DojoAccount;
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** A shorter deadline for this attempt (what is left of the retry budget). */
  readonly totalMs?: number | undefined;
}

export interface HttpResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly retryAfter: string | undefined;
  readonly bodyText: string;
}

export type HttpOutcome =
  | { readonly ok: true; readonly response: HttpResponse }
  | { readonly ok: false; readonly error: DojoError };

export class DojoTransport {
  readonly #origin: string;
  readonly #basePath: string;
  readonly #timeouts: DojoTimeouts;
  readonly #connections: number;
  readonly #pools = new Map<string, Pool>();
  #closed = false;

  constructor(baseUrl: string, timeouts: DojoTimeouts, connections: number) {
    const url = new URL(baseUrl);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("baseUrl must be http(s)");
    this.#origin = url.origin;
    this.#basePath = url.pathname.replace(/\/+$/, "");
    this.#timeouts = timeouts;
    this.#connections = connections;
  }

  async send(request: HttpRequest): Promise<HttpOutcome> {
    const pool = this.#pool(request.account.fingerprint);
    const totalMs = Math.max(
      1,
      Math.min(this.#timeouts.totalMs, request.totalMs ?? Number.POSITIVE_INFINITY),
    );
    const exchange = new Exchange();
    let deadlineFired = false;
    const timer = setTimeout(() => {
      deadlineFired = true;
      exchange.abort(new Error("total deadline"));
    }, totalMs);
    // The caller's signal usually lives as long as the process (a drain deadline); a listener removed
    // afterwards costs nothing, where AbortSignal.any would leave a composite signal behind on it for
    // every request until the garbage collector finds it.
    const callerSignal = request.signal;
    const onCallerAbort = () => exchange.abort(callerSignal?.reason);
    if (callerSignal?.aborted) exchange.abort(callerSignal.reason);
    else callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
    try {
      pool.dispatch(
        {
          method: request.method,
          path: this.#basePath + request.path,
          headers: request.headers,
          body: request.body ?? null,
          headersTimeout: this.#timeouts.headersMs,
          bodyTimeout: this.#timeouts.bodyMs,
        },
        exchange,
      );
      return { ok: true, response: await exchange.response };
    } catch (error) {
      const abort = { callerAborted: request.signal?.aborted === true, deadlineFired, totalMs };
      return { ok: false, error: classifyTransportError(error, abort) };
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener("abort", onCallerAbort);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  #pool(fingerprint: string): Pool {
    if (this.#closed) throw new Error("the Dojo client is closed");
    let pool = this.#pools.get(fingerprint);
    if (pool === undefined) {
      pool = new Pool(this.#origin, {
        connections: this.#connections,
        connectTimeout: this.#timeouts.connectMs,
        headersTimeout: this.#timeouts.headersMs,
        bodyTimeout: this.#timeouts.bodyMs,
        keepAliveTimeout: 30_000,
        maxResponseSize: MAX_RESPONSE_BYTES,
        pipelining: 1,
      });
      this.#pools.set(fingerprint, pool);
    }
    return pool;
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * One exchange's dispatch handler: collects the response body into one string. Lighter than undici's
 * `request()`, which wraps every response body in a stream and links an abort signal of its own; the
 * timeouts, the response size limit and the errors are undici's either way.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly response: Promise<HttpResponse>;
  #resolve!: (response: HttpResponse) => void;
  #reject!: (error: unknown) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #abortReason: unknown;
  #aborted = false;
  #status = 0;
  #contentType: string | undefined;
  #retryAfter: string | undefined;
  readonly #chunks: Buffer[] = [];

  constructor() {
    this.response = new Promise<HttpResponse>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Ends the exchange (a deadline or the caller); before it started, as soon as it starts. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason ?? new Error("aborted");
    this.#controller?.abort(this.#abortReason as Error);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#aborted) controller.abort(this.#abortReason as Error);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (statusCode < 200) return;
    this.#status = statusCode;
    this.#contentType = header(headers["content-type"]);
    this.#retryAfter = header(headers["retry-after"]);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    const body = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    let bodyText = body.toString("utf8");
    // As a UTF-8 decode does (undici's body.text() did): a byte order mark is not part of the text.
    if (bodyText.charCodeAt(0) === 0xfeff) bodyText = bodyText.slice(1);
    this.#resolve({
      status: this.#status,
      contentType: this.#contentType,
      retryAfter: this.#retryAfter,
      bodyText,
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#reject(error);
  }
}
