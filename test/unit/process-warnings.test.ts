import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { reportWarningsExceptTimeoutNegative } from "../../src/process-warnings.ts";

let saved: NodeJS.WarningListener[];
beforeEach(() => {
  saved = process.listeners("warning");
});
afterEach(() => {
  process.removeAllListeners("warning");
  for (const listener of saved) process.on("warning", listener);
});

describe("reportWarningsExceptTimeoutNegative", () => {
  it("reports every process warning except TimeoutNegativeWarning, and replaces Node's printer", async () => {
    const reported: string[] = [];
    reportWarningsExceptTimeoutNegative((warning) => reported.push(`${warning.name}: ${warning.message}`));
    expect(process.listenerCount("warning")).toBe(1);

    const delivered = new Promise<void>((resolve) => {
      process.on("warning", (warning) => {
        if (warning.name === "LastWarning") resolve();
      });
    });
    process.emitWarning("clamped to 1", "TimeoutNegativeWarning");
    process.emitWarning("something else", "OtherWarning");
    process.emitWarning("end", "LastWarning");
    await delivered;

    expect(reported).toEqual(["OtherWarning: something else", "LastWarning: end"]);
  });
});
