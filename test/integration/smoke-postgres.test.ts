import pg from "pg";
import { describe, expect, inject, it } from "vitest";

const { databaseUrl } = inject("servers");

describe("PostgreSQL smoke test (real server)", () => {
  it("answers a query over a real connection", async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const result = await client.query<{ answer: number; version: string }>(
        "select 40 + 2 as answer, current_setting('server_version') as version",
      );
      expect(result.rows[0]?.answer).toBe(42);
      expect(result.rows[0]?.version).toMatch(/^\d+/);
    } finally {
      await client.end();
    }
  });
});
