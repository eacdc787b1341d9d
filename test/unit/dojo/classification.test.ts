import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DOJO_ERROR_CATALOGUE, parseProblem } from "../../../src/dojo/index.ts";
import { classifyStatus, parseRetryAfter } from "../../../src/dojo/status.ts";
import { classifyTransportError } from "../../../src/dojo/transport-errors.ts";

const noAbort = { callerAborted: false, deadlineFired: false, totalMs: 1000 };
const codeError = (code: string) => Object.assign(new Error(code), { code });

describe("error catalogue", () => {
  it("gives every code a kind and a description", () => {
    for (const [code, entry] of Object.entries(DOJO_ERROR_CATALOGUE)) {
      expect(["definitive", "retryable", "indeterminate"], code).toContain(entry.kind);
      expect(entry.description.length, code).toBeGreaterThan(10);
    }
  });

  it("is documented code by code, with the same kind, in docs/dojo-client.md", () => {
    const doc = readFileSync(new URL("../../../docs/dojo-client.md", import.meta.url), "utf8");
    const rows = new Map(
      [...doc.matchAll(/^\| `([a-z_]+)` \| (definitive|retryable|indeterminate) \|/gm)].map((m) => [
        m[1],
        m[2],
      ]),
    );
    const expected = new Map(Object.entries(DOJO_ERROR_CATALOGUE).map(([code, e]) => [code, e.kind]));
    expect(rows).toEqual(expected);
  });

  it.each([
    [400, "bad_request", "definitive"],
    [401, "unauthorized", "definitive"],
    [403, "forbidden", "definitive"],
    [404, "not_found", "definitive"],
    [405, "method_not_allowed", "definitive"],
    [409, "conflict", "definitive"],
    [410, "client_error", "definitive"],
    [422, "unprocessable", "definitive"],
    [429, "rate_limited", "indeterminate"],
    [500, "server_error", "indeterminate"],
    [502, "server_error", "indeterminate"],
    [503, "server_error", "indeterminate"],
    [504, "server_error", "indeterminate"],
    [302, "unexpected_response", "indeterminate"],
  ])("maps HTTP %i to %s (%s)", (status, code, kind) => {
    const error = classifyStatus({ status, problem: undefined, retryAfterMs: undefined, idempotent: false });
    expect(error).toMatchObject({ code, kind, status });
  });

  it("reads a 409 on a keyed refund by its problem text: in flight, reused key, or state conflict", () => {
    const at = (title: string) =>
      classifyStatus({ status: 409, problem: { title }, retryAfterMs: undefined, idempotent: true }).code;
    expect(at("Idempotency key in flight")).toBe("idempotency_in_flight");
    expect(at("Idempotency key reused")).toBe("idempotency_mismatch");
    expect(at("Payment intent not refundable")).toBe("conflict");
  });

  it.each([
    ["ECONNREFUSED", "connect_failed", "retryable"],
    ["ENOTFOUND", "connect_failed", "retryable"],
    ["UND_ERR_CONNECT_TIMEOUT", "connect_failed", "retryable"],
    ["UND_ERR_HEADERS_TIMEOUT", "timeout", "indeterminate"],
    ["UND_ERR_BODY_TIMEOUT", "timeout", "indeterminate"],
    ["UND_ERR_SOCKET", "connection_reset", "indeterminate"],
    ["ECONNRESET", "connection_reset", "indeterminate"],
    ["EPIPE", "connection_reset", "indeterminate"],
    ["SOMETHING_NEW", "connection_reset", "indeterminate"],
  ])("classifies transport error %s as %s (%s)", (code, expected, kind) => {
    expect(classifyTransportError(codeError(code), noAbort)).toMatchObject({ code: expected, kind });
  });

  it("finds the code inside an AggregateError from a multi-address connect", () => {
    const error = new AggregateError([codeError("ECONNREFUSED"), codeError("ECONNREFUSED")]);
    expect(classifyTransportError(error, noAbort).code).toBe("connect_failed");
  });

  it("puts the caller's abort and the total deadline before the error's own code", () => {
    const e = codeError("UND_ERR_ABORTED");
    expect(classifyTransportError(e, { ...noAbort, callerAborted: true }).code).toBe("aborted");
    expect(classifyTransportError(e, { ...noAbort, deadlineFired: true }).code).toBe("timeout");
  });

  it("rethrows errors that only a bug can cause", () => {
    expect(() => classifyTransportError(codeError("UND_ERR_INVALID_ARG"), noAbort)).toThrow();
  });
});

describe("problem details", () => {
  const body = JSON.stringify({
    type: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
    title: "One or more validation errors occurred.",
    status: 400,
    traceId: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    errors: { Reference: ["The Reference field is required."] },
    extra: { kept: true },
  });

  it.each(["application/json", "application/problem+json", "application/problem+json; charset=utf-8"])(
    "parses %s keeping traceId and the errors map",
    (contentType) => {
      expect(parseProblem(contentType, body)).toEqual({
        type: "https://tools.ietf.org/html/rfc7231#section-6.5.1",
        title: "One or more validation errors occurred.",
        status: 400,
        traceId: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        errors: { Reference: ["The Reference field is required."] },
      });
    },
  );

  it.each([
    ["text/html", "<html>bad gateway</html>"],
    ["application/json", "not json"],
    ["application/json", "[1,2]"],
    ["application/json", ""],
    [undefined, body],
    ["application/json", JSON.stringify({ status: "four hundred" })],
  ])("tolerates an unexpected body (%s)", (contentType, text) => {
    expect(parseProblem(contentType, text)).toBeUndefined();
  });
});

describe("Retry-After", () => {
  it("reads delay-seconds and HTTP dates, and ignores garbage", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter(" 0 ")).toBe(0);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});
