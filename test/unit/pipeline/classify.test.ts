import { describe, expect, it } from "vitest";
import { FAILURE_CODES, type FailureCode } from "../../../schemas/index.ts";
import { DOJO_ERROR_CATALOGUE, type DojoErrorCode, dojoError } from "../../../src/dojo/index.ts";
import { classifyReadError, classifyWriteError } from "../../../src/pipeline/classify.ts";

const ALL_CODES = Object.keys(DOJO_ERROR_CATALOGUE) as DojoErrorCode[];

/**
 * The expected decision per catalogue code: "retry", "credentials" (a fault of the relay's own key:
 * pause and retry, never an answer), "no_account" (parked for a person) or the refund.failed code.
 */
type Expected = "retry" | "credentials" | "no_account" | FailureCode;

const REFUND_EXPECTED: Record<DojoErrorCode, Expected> = {
  bad_request: "dojo_rejected",
  unauthorized: "credentials",
  forbidden: "credentials",
  not_found: "payment_not_found",
  method_not_allowed: "dojo_rejected",
  conflict: "retry",
  idempotency_in_flight: "retry",
  idempotency_mismatch: "retry",
  unprocessable: "dojo_rejected",
  client_error: "dojo_rejected",
  rate_limited: "retry",
  server_error: "retry",
  timeout: "retry",
  connection_reset: "retry",
  connect_failed: "retry",
  unknown_merchant: "no_account",
  invalid_request: "dojo_rejected",
  aborted: "retry",
  unexpected_response: "retry",
};

const REVERSAL_EXPECTED: Record<DojoErrorCode, Expected> = {
  ...REFUND_EXPECTED,
  conflict: "payment_not_refundable",
  // Reversals carry no idempotency key; should Dojo still claim a key conflict, it is a plain refusal.
  idempotency_mismatch: "dojo_rejected",
};

const READ_EXPECTED: Record<DojoErrorCode, Expected> = {
  ...REFUND_EXPECTED,
  conflict: "dojo_rejected",
  idempotency_mismatch: "dojo_rejected",
};

function summary(decision: ReturnType<typeof classifyWriteError>): Expected {
  return decision.kind === "fail" ? decision.code : decision.kind;
}

describe("classifyWriteError", () => {
  it("covers every code of the catalogue in this table", () => {
    expect(Object.keys(REFUND_EXPECTED).sort()).toEqual([...ALL_CODES].sort());
  });

  it.each(ALL_CODES)("maps %s on a refund to the expected decision", (code) => {
    const error = dojoError(code, `said ${code}`);
    expect(summary(classifyWriteError(error, "refund"))).toBe(REFUND_EXPECTED[code]);
  });

  it.each(ALL_CODES)("maps %s on a reversal to the expected decision", (code) => {
    const error = dojoError(code, `said ${code}`);
    expect(summary(classifyWriteError(error, "reversal"))).toBe(REVERSAL_EXPECTED[code]);
  });

  it.each(ALL_CODES.filter((code) => DOJO_ERROR_CATALOGUE[code].kind !== "definitive"))(
    "never turns the %s error (not definitive) into a failure",
    (code) => {
      const error = dojoError(code, "maybe");
      for (const method of ["refund", "reversal"] as const) {
        const decision = classifyWriteError(error, method);
        expect(decision).toEqual({ kind: "retry", error });
      }
    },
  );

  it("retries a 409 conflict on a refund with the same error", () => {
    const error = dojoError("conflict", "Dojo answered HTTP 409", { status: 409 });
    expect(classifyWriteError(error, "refund")).toEqual({ kind: "retry", error });
  });

  it("retries a 409 idempotency mismatch on a refund: the earlier request with that key may have paid", () => {
    const error = dojoError("idempotency_mismatch", "Dojo answered HTTP 409", { status: 409 });
    expect(classifyWriteError(error, "refund")).toEqual({ kind: "retry", error });
  });

  it.each([
    ["unauthorized", 401],
    ["forbidden", 403],
  ] as const)(
    "never answers a %s (HTTP %i) on a refund or reversal: it is a fault of the relay's key",
    (code, status) => {
      const error = dojoError(code, `Dojo answered HTTP ${status}`, { status });
      for (const method of ["refund", "reversal"] as const) {
        expect(classifyWriteError(error, method)).toEqual({ kind: "credentials", error });
      }
      expect(classifyReadError(error)).toEqual({ kind: "credentials", error });
    },
  );

  it("parks an event whose merchant has no Dojo key instead of answering it", () => {
    const error = dojoError("unknown_merchant", "no Dojo API key for merchant m-9");
    for (const method of ["refund", "reversal"] as const) {
      expect(classifyWriteError(error, method)).toEqual({ kind: "no_account", error });
    }
    expect(classifyReadError(error)).toEqual({ kind: "no_account", error });
  });

  it("fails a 409 conflict on a reversal as payment_not_refundable", () => {
    const error = dojoError("conflict", "Dojo answered HTTP 409", { status: 409 });
    const decision = classifyWriteError(error, "reversal");
    expect(decision).toMatchObject({ kind: "fail", code: "payment_not_refundable", error });
  });

  it("only produces codes of the published contract, keeps the error and names the method", () => {
    for (const code of ALL_CODES) {
      for (const method of ["refund", "reversal"] as const) {
        const error = dojoError(code, `text of ${code}`, {
          status: 400,
          problem: { title: "Bad" },
        });
        const decision = classifyWriteError(error, method);
        if (decision.kind !== "fail") continue;
        expect(FAILURE_CODES).toContain(decision.code);
        expect(decision.error).toBe(error);
        if (code !== "conflict")
          expect(decision.message).toContain(`Dojo ${method} refused: text of ${code}`);
      }
    }
  });
});

describe("classifyReadError", () => {
  it.each(ALL_CODES)("maps %s while reading the payment intent to the expected decision", (code) => {
    const error = dojoError(code, `said ${code}`);
    const decision = classifyReadError(error);
    expect(summary(decision)).toBe(READ_EXPECTED[code]);
    if (DOJO_ERROR_CATALOGUE[code].kind !== "definitive") expect(decision).toEqual({ kind: "retry", error });
  });

  it("reports a 404 on the payment intent as payment_not_found with the error attached", () => {
    const error = dojoError("not_found", "Dojo answered HTTP 404", { status: 404 });
    expect(classifyReadError(error)).toEqual({
      kind: "fail",
      code: "payment_not_found",
      message: "reading the payment intent failed: Dojo answered HTTP 404",
      error,
    });
  });
});
