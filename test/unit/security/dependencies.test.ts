// Dependencies: the README's "Dependencies" section names every runtime dependency of package.json with
// a reason, says how to run npm audit, and CI writes a CycloneDX SBOM to an untracked directory.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../../", import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), "utf8");

/** The text of a `## ` section of a Markdown document, up to the next one. */
function section(markdown: string, title: string): string {
  const start = markdown.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const end = markdown.indexOf("\n## ", start + 1);
  return markdown.slice(start, end < 0 ? markdown.length : end);
}

/** The packages of the section's table, `| \`name\` | why |`, with their reasons. */
function listed(text: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const m of text.matchAll(/^\| `([^`]+)` \| ([^|]*\S[^|]*) \|$/gm)) rows.set(m[1]!, m[2]!.trim());
  return rows;
}

describe("README: Dependencies", () => {
  const pkg = JSON.parse(read("package.json")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const text = section(read("README.md"), "Dependencies");
  const rows = listed(text);

  it("names every runtime dependency of package.json, each with a reason", () => {
    const runtime = Object.keys(pkg.dependencies);
    expect(runtime.length).toBeGreaterThan(0);
    const missing = runtime.filter((name) => !rows.has(name));
    expect(missing, "add a row for each to README.md's Dependencies table").toEqual([]);
    for (const name of runtime) expect(rows.get(name)?.length ?? 0, name).toBeGreaterThan(15);
  });

  it("names nothing that is not a runtime dependency", () => {
    expect([...rows.keys()].filter((name) => pkg.dependencies[name] === undefined)).toEqual([]);
  });

  it("says how to run npm audit, and why CI does not", () => {
    expect(text).toContain("npm audit --omit dev");
    expect(text).toMatch(/CI does not run it/);
  });

  it("fails when a dependency is missing from the table (the check itself can fail)", () => {
    const without = text.replace(/^\| `undici` \|.*$/m, "");
    expect(listed(without).has("undici")).toBe(false);
    expect(Object.keys(pkg.dependencies).filter((name) => !listed(without).has(name))).toEqual(["undici"]);
  });
});

describe("CI's SBOM", () => {
  const ci = read(".ci/run");

  it("is written by .ci/run with npm sbom, as CycloneDX, runtime dependencies only, into ci-artifacts/", () => {
    expect(ci).toContain("npm sbom --sbom-format cyclonedx --omit dev > ci-artifacts/sbom.cdx.json");
    // set -e: a failing npm sbom stops the run.
    expect(ci).toMatch(/^set -euo pipefail$/m);
    expect(ci.indexOf("npm sbom")).toBeGreaterThan(ci.indexOf("npm ci"));
  });

  it("goes to a directory git does not track", () => {
    const ignored = execFileSync("git", ["check-ignore", "ci-artifacts/sbom.cdx.json"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(ignored.trim()).toBe("ci-artifacts/sbom.cdx.json");
  });
});
