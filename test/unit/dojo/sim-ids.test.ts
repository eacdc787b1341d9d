import { describe, expect, it } from "vitest";
import { newId } from "../../../src/sim/state.ts";

describe("simulator ids", () => {
  it("stay unique and well formed across refills of the random pool", () => {
    const ids = Array.from({ length: 2000 }, () => newId("rfnd_"));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^rfnd_[A-Za-z0-9_-]{16}$/);
  });
});
