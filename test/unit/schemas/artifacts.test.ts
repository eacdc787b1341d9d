import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Parser } from "@asyncapi/parser";
import { describe, expect, it } from "vitest";
import { renderArtifacts } from "../../../schemas/artifacts.ts";
import {
  decodeReturnApproved,
  FAILURE_CODES,
  RefundFailedEventV1,
  RefundFailedEventV1Emit,
  RefundSucceededEventV1,
  RefundSucceededEventV1Emit,
  ReturnApprovedEventV1Emit,
} from "../../../schemas/index.ts";

const SCHEMAS_DIR = fileURLToPath(new URL("../../../schemas/", import.meta.url));
const GENERATED = join(SCHEMAS_DIR, "generated");

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(GENERATED, join(entry.parentPath, entry.name)))
    .sort();
}

const readJson = (path: string): unknown => JSON.parse(readFileSync(join(GENERATED, path), "utf8"));

describe("generated artifacts", () => {
  const rendered = renderArtifacts();

  it("are checked in exactly as `npm run schemas` renders them", () => {
    expect(filesUnder(GENERATED)).toEqual([...rendered.keys()].sort());
    for (const [path, content] of rendered) {
      expect(readFileSync(join(GENERATED, path), "utf8"), `${path} is stale: run npm run schemas`).toBe(
        content,
      );
    }
  });

  it("include a draft 2020-12 JSON Schema per event and view", () => {
    for (const name of ["return.approved", "refund.succeeded", "refund.failed"]) {
      for (const view of ["accept", "emit", "data"]) {
        const schema = readJson(`json-schema/${name}.v1.${view}.schema.json`) as Record<string, unknown>;
        expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
        expect(schema.type).toBe("object");
      }
    }
  });

  it("describe the data schema under the URN events carry in dataschema", () => {
    const schema = readJson("json-schema/return.approved.v1.data.schema.json") as Record<string, unknown>;
    expect(schema.$id).toBe("urn:refund-relay:schema:return.approved:v1");
  });

  it("include an AsyncAPI 3 document that @asyncapi/parser accepts without errors or warnings", async () => {
    const { document, diagnostics } = await new Parser().parse(rendered.get("asyncapi.json")!);
    // Severity 0 is an error and 1 a warning; 2 (information) only suggests the newer 3.1 minor version.
    expect(diagnostics.filter((d) => d.severity < 2).map((d) => d.message)).toEqual([]);
    expect(document?.version()).toBe("3.0.0");
    expect(
      document
        ?.channels()
        .all()
        .map((c) => c.address())
        .sort(),
    ).toEqual([
      "refund-failed.fifo",
      "refund-succeeded.fifo",
      "refund.failed",
      "refund.succeeded",
      "return-approved",
      "return.approved",
    ]);
    const operations = document?.operations().all() ?? [];
    expect(operations.filter((o) => o.action() === "receive")).toHaveLength(2);
    expect(operations.filter((o) => o.action() === "send")).toHaveLength(4);
  });
});

describe("examples", () => {
  it("return.approved is valid for the relay and for producers", () => {
    const example = readJson("examples/return.approved.v1.json");
    const decoded = decodeReturnApproved({ body: JSON.stringify(example), transport: "kafka" });
    expect(decoded.ok).toBe(true);
    expect(ReturnApprovedEventV1Emit.safeParse(example).success).toBe(true);
  });

  it("the SNS-wrapped return.approved is valid on SQS", () => {
    const example = readFileSync(join(GENERATED, "examples/return.approved.v1.sns.json"), "utf8");
    expect(decodeReturnApproved({ body: example, transport: "sqs" }).ok).toBe(true);
  });

  it("refund.succeeded is valid in both views", () => {
    const example = readJson("examples/refund.succeeded.v1.json");
    expect(RefundSucceededEventV1Emit.safeParse(example).success).toBe(true);
    expect(RefundSucceededEventV1.safeParse(example).success).toBe(true);
  });

  it("refund.failed is valid in both views", () => {
    const example = readJson("examples/refund.failed.v1.json");
    expect(RefundFailedEventV1Emit.safeParse(example).success).toBe(true);
    expect(RefundFailedEventV1.safeParse(example).success).toBe(true);
  });
});

describe("schemas/README.md", () => {
  const readme = readFileSync(join(SCHEMAS_DIR, "README.md"), "utf8");

  it("documents every failure code", () => {
    for (const code of FAILURE_CODES) expect(readme).toContain(`\`${code}\``);
  });

  it("documents every field of every event", () => {
    const fields = new Set<string>();
    const collect = (schema: unknown): void => {
      if (typeof schema !== "object" || schema === null) return;
      const properties = (schema as { properties?: Record<string, unknown> }).properties;
      for (const [name, value] of Object.entries(properties ?? {})) {
        fields.add(name);
        collect(value);
        collect((value as { items?: unknown }).items);
      }
    };
    for (const name of ["return.approved", "refund.succeeded", "refund.failed"]) {
      collect(readJson(`json-schema/${name}.v1.accept.schema.json`));
    }
    expect(fields.size).toBeGreaterThan(30);
    // A field is documented as `name` or as the last segment of a path such as `lines[].sku`.
    for (const field of fields) expect(readme, field).toMatch(new RegExp(`[\`.]${field}\``));
  });
});
