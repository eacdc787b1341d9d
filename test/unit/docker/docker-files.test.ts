// The container files, checked without a Docker engine: the Dockerfile's promises (multi-stage, no dev
// dependencies in the image, a non-root user, a health check on /healthz), what the build context
// leaves out, and docker-compose.yml as docker-compose itself reads it. Every check also runs on a copy
// with one promise broken, so a check that can no longer fail is noticed.
import { execFile, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { builtinModules } from "node:module";
import type { AddressInfo } from "node:net";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config.ts";
import {
  type ComposeConfig,
  checkComposeConfig,
  checkDockerfile,
  checkDockerignore,
  checkPorts,
  composePortsOf,
  dockerignore,
  envOf,
  healthcheckCommand,
  parseDockerfile,
  RUNTIME_SOURCES,
  stagesOf,
  writablePaths,
} from "./container-checks.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");
const read = (path: string): string => readFileSync(join(ROOT, path), "utf8");
const DOCKERFILE = read("Dockerfile");
const DOCKERIGNORE = read(".dockerignore");
const COMPOSE = read("docker-compose.yml");
/** The Node.js 24 minor version CI runs the tests on (scripts/node.sh installs it). */
const NODE_MINOR = Number(/RR_NODE_VERSION:-24\.(\d+)\.\d+/.exec(read("scripts/node.sh"))?.[1]);

function changed(text: string, edit: (t: string) => string): string {
  const out = edit(text);
  expect(out, "the edit must change the file").not.toBe(text);
  return out;
}

describe("Dockerfile", () => {
  it("keeps its promises", () => {
    expect(NODE_MINOR).toBeGreaterThan(0);
    expect(checkDockerfile(DOCKERFILE, NODE_MINOR)).toEqual([]);
  });

  const broken: [string, (t: string) => string][] = [
    ["one stage only", (t) => t.replace(/^FROM [^\n]* AS deps\n[\s\S]*?(?=^FROM )/m, "")],
    ["runs as root", (t) => t.replace(/^USER node$/m, "USER root")],
    ["no USER", (t) => t.replace(/^USER node\n/m, "")],
    ["health check on another path", (t) => t.replaceAll("/healthz", "/readyz")],
    [
      "health check with curl",
      (t) => t.replace(/CMD \["node", "-e", [^\n]*\]/, 'CMD ["curl", "-f", "http://127.0.0.1:8080/healthz"]'),
    ],
    ["no health check", (t) => t.replace(/^HEALTHCHECK [^\n]*\\\n[^\n]*\n/m, "")],
    ["dev dependencies installed", (t) => t.replace(" --omit=dev", "")],
    [
      "dependencies installed in the runtime stage",
      (t) => t.replace(/^USER node$/m, "RUN npm install --omit=dev\nUSER node"),
    ],
    [
      "node_modules from the build context",
      (t) => t.replace("COPY --from=deps /app/node_modules", "COPY node_modules"),
    ],
    [
      "tests copied into the image",
      (t) => t.replace(/^COPY schemas \.\/schemas$/m, "COPY schemas ./schemas\nCOPY test ./test"),
    ],
    ["the whole context copied", (t) => t.replace(/^COPY package\.json \.\/$/m, "COPY . .")],
    ["a floating base image", (t) => t.replaceAll(/node:24\.\d+-bookworm-slim/g, "node:24-slim")],
    ["another Node.js minor than CI's", (t) => t.replaceAll(/node:24\.\d+-/g, `node:24.${NODE_MINOR + 1}-`)],
    ["NODE_ENV not production", (t) => t.replace("NODE_ENV=production", "NODE_ENV=development")],
    ["another HTTP port", (t) => t.replace("HTTP_PORT=8080", "HTTP_PORT=9000")],
    ["port not exposed", (t) => t.replace(/^EXPOSE 8080\n/m, "")],
    [
      "another entry point",
      (t) => t.replace('ENTRYPOINT ["node", "bin/refund-relay.js"]', "ENTRYPOINT node bin/refund-relay.js"),
    ],
    ["another default command", (t) => t.replace('CMD ["start"]', 'CMD ["dojo-sim"]')],
  ];
  it.each(broken)("fails when broken: %s", (_, edit) => {
    expect(checkDockerfile(changed(DOCKERFILE, edit), NODE_MINOR)).not.toEqual([]);
  });

  it("parses instructions across continuation and comment lines", () => {
    const parsed = parseDockerfile('# c\nFROM a AS b\nRUN x \\\n  # inside\n  y\n\nCMD ["z"]\n');
    expect(parsed.map((i) => [i.keyword, i.args, i.line])).toEqual([
      ["FROM", "a AS b", 2],
      ["RUN", "x y", 3],
      ["CMD", '["z"]', 7],
    ]);
  });

  describe("its health check, run with this machine's node", () => {
    const runtime = stagesOf(parseDockerfile(DOCKERFILE)).at(-1)!;
    const check = runtime.instructions.find((i) => i.keyword === "HEALTHCHECK")!;
    const command = healthcheckCommand(check.args)!;

    /** Exit code of the health check against a server answering `status`, or against nothing. */
    async function exitCode(status: number | "closed"): Promise<{ code: number; paths: string[] }> {
      const paths: string[] = [];
      const server = createServer((req, res) => {
        paths.push(req.url ?? "");
        res.writeHead(status === "closed" ? 500 : status, { "content-type": "application/json" });
        res.end(JSON.stringify({ status: status === 200 ? "ok" : "wedged" }));
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as AddressInfo).port;
      if (status === "closed") await new Promise((resolve) => server.close(resolve));
      try {
        const code = await new Promise<number>((resolve) => {
          execFile(
            process.execPath,
            command.slice(1),
            { env: { PATH: process.env.PATH ?? "", HTTP_PORT: String(port) }, timeout: 15_000 },
            (error) => resolve(error === null ? 0 : typeof error.code === "number" ? error.code : -1),
          );
        });
        return { code, paths };
      } finally {
        if (status !== "closed") await new Promise((resolve) => server.close(resolve));
      }
    }

    it("passes when /healthz answers 200", async () => {
      expect(command[0]).toBe("node");
      expect(envOf(runtime).get("HTTP_PORT")).toBe("8080");
      expect(await exitCode(200)).toEqual({ code: 0, paths: ["/healthz"] });
    });

    it("fails when /healthz answers 503 (a wedged event loop)", async () => {
      expect(await exitCode(503)).toEqual({ code: 1, paths: ["/healthz"] });
    });

    it("fails when nothing listens", async () => {
      expect((await exitCode("closed")).code).toBe(1);
    });
  });

  describe("the runtime stage's files (what it copies, less what .dockerignore leaves out)", () => {
    const ignored = dockerignore(DOCKERIGNORE);
    const files: string[] = [];
    const walk = (path: string): void => {
      if (statSync(join(ROOT, path)).isDirectory()) {
        for (const entry of readdirSync(join(ROOT, path))) walk(`${path}/${entry}`);
      } else files.push(path);
    };
    for (const source of RUNTIME_SOURCES) walk(source);
    const image = new Set(files.filter((f) => !ignored(f)));
    const code = [...image].filter((f) => /\.(ts|js|mjs)$/.test(f));
    const pkg = JSON.parse(read("package.json")) as { dependencies: Record<string, string> };
    const builtins = new Set(builtinModules);

    function specifiers(text: string): { spec: string; typeOnly: boolean }[] {
      const out: { spec: string; typeOnly: boolean }[] = [];
      for (const m of text.matchAll(/\b(?:import|export)(\s+type\b)?[^;'"`]*?\bfrom\s*(["'])([^"']+)\2/g)) {
        out.push({ spec: m[3]!, typeOnly: m[1] !== undefined });
      }
      for (const m of text.matchAll(/\bimport\s*\(\s*(["'])([^"']+)\1\s*\)/g))
        out.push({ spec: m[2]!, typeOnly: false });
      for (const m of text.matchAll(/^\s*import\s*(["'])([^"']+)\1/gm))
        out.push({ spec: m[2]!, typeOnly: false });
      return out;
    }

    it("are the relay's code and data, without tests", () => {
      expect(code.length).toBeGreaterThan(50);
      for (const f of [
        "package.json",
        "bin/refund-relay.js",
        "src/cli/main.ts",
        "src/ledger/sqlite-worker.ts",
      ]) {
        expect(image.has(f), f).toBe(true);
      }
      expect([...image].some((f) => /^src\/ledger\/migrations\/postgres\/.*\.sql$/.test(f))).toBe(true);
      expect([...image].filter((f) => f.endsWith(".test.ts"))).toEqual([]);
    });

    /**
     * What the command loads, from bin/refund-relay.js through every import and dynamic import (type-only
     * imports are erased) and every `new URL("./…", import.meta.url)` (a worker, the migrations): the
     * local files found or missing in the image, and the packages.
     */
    function loaded(): { files: Set<string>; missing: string[]; packages: string[] } {
      const files = new Set<string>();
      const missing: string[] = [];
      const packages: string[] = [];
      const queue = ["bin/refund-relay.js"];
      for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
        if (files.has(file)) continue;
        files.add(file);
        const text = read(file);
        const urls = [
          ...text.matchAll(/new URL\(\s*(["'])(\.{1,2}\/[^"']*)\1\s*,\s*import\.meta\.url\s*\)/g),
        ];
        const specs = [
          ...specifiers(text)
            .filter((x) => !x.typeOnly)
            .map((x) => x.spec),
          ...urls.map((m) => m[2]!),
        ];
        for (const spec of specs) {
          if (!spec.startsWith(".")) {
            if (!spec.startsWith("node:") && !builtins.has(spec)) packages.push(`${file}: ${spec}`);
            continue;
          }
          const target = normalize(join(dirname(file), spec)).replace(/\/$/, "");
          if (spec.endsWith("/")) {
            if (![...image].some((f) => f.startsWith(`${target}/`))) missing.push(`${file}: ${spec}`);
          } else if (!image.has(target)) missing.push(`${file}: ${spec}`);
          else if (/\.(ts|js|mjs)$/.test(target)) queue.push(target);
        }
      }
      return { files, missing, packages };
    }

    it("hold every file the command imports or loads", () => {
      const { files, missing } = loaded();
      // Every subcommand is reached from the entry point, the SQLite worker through its URL.
      expect(files.size).toBeGreaterThan(80);
      for (const f of [
        "src/cli/main.ts",
        "src/sim/index.ts",
        "consumers/kafka/relay.ts",
        "src/ledger/sqlite-worker.ts",
      ]) {
        expect(files.has(f), f).toBe(true);
      }
      expect(missing).toEqual([]);
    });

    it("need only production dependencies (npm ci --omit=dev installs all the command imports)", () => {
      const { packages } = loaded();
      expect(packages.length).toBeGreaterThan(10);
      const dev = packages.filter((entry) => {
        const spec = entry.slice(entry.indexOf(": ") + 2);
        const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
        return pkg.dependencies[name] === undefined;
      });
      expect(dev).toEqual([]);
    });
  });
});

describe(".dockerignore", () => {
  it("leaves node_modules, .git, test data, local broker state, bench results and logs out of the build", () => {
    expect(checkDockerignore(DOCKERIGNORE)).toEqual([]);
  });

  it.each([
    [
      "node_modules sent",
      (t: string) => t.replace(/^node_modules\n/m, "").replace(/^\*\*\/node_modules\n/m, ""),
    ],
    ["nested node_modules sent", (t: string) => t.replace(/^\*\*\/node_modules\n/m, "")],
    [".git sent", (t: string) => t.replace(/^\.git\n/m, "")],
    ["logs sent", (t: string) => t.replace(/^\*\.log\n/m, "").replace(/^\*\*\/\*\.log\n/m, "")],
    ["the sources left out", (t: string) => `${t}src\n`],
    ["everything left out", (t: string) => `${t}*\n`],
  ])("fails when broken: %s", (_, edit) => {
    expect(checkDockerignore(changed(DOCKERIGNORE, edit))).not.toEqual([]);
  });

  it("matches as Docker does: directories cover their contents, ** any depth, ! re-includes, last rule wins", () => {
    const ignored = dockerignore("/bench\n**/*.log\n*.md\n!README.md\n./data/\nsrc/**/fixtures\n");
    expect(ignored("bench/results/a.json")).toBe(true);
    expect(ignored("benchmarks.txt")).toBe(false);
    expect(ignored("x.log")).toBe(true);
    expect(ignored("a/b/x.log")).toBe(true);
    expect(ignored("NOTES.md")).toBe(true);
    expect(ignored("docs/NOTES.md")).toBe(false);
    expect(ignored("README.md")).toBe(false);
    expect(ignored("data/x.db")).toBe(true);
    expect(ignored("src/fixtures/a")).toBe(true);
    expect(ignored("src/a/b/fixtures/a")).toBe(true);
    expect(ignored("src/a.ts")).toBe(false);
  });
});

/** docker-compose's version, when the command exists. */
function composeVersion(): string | undefined {
  const r = spawnSync("docker-compose", ["version", "--short"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const COMPOSE_VERSION = composeVersion();

describe("docker-compose.yml as written", () => {
  const ports = composePortsOf(COMPOSE);

  it("publishes each port on 127.0.0.1 only, none where a local PostgreSQL, Kafka or ElasticMQ listens", () => {
    expect(ports.length).toBeGreaterThanOrEqual(6);
    expect(checkPorts(ports)).toEqual([]);
  });

  it.each([
    ["PostgreSQL on 5432", (t: string) => t.replace(":-15432}", ":-5432}")],
    ["Kafka on 9092", (t: string) => t.replace(":-19092}:19092", ":-9092}:19092")],
    ["ElasticMQ on every address", (t: string) => t.replace(/"127\.0\.0\.1:(?=\$\{SQS_HOST_PORT)/, '"')],
    ["two services on one port", (t: string) => t.replace(":-18081}", ":-18080}")],
  ])("fails when broken: %s", (_, edit) => {
    expect(checkPorts(composePortsOf(changed(COMPOSE, edit)))).not.toEqual([]);
  });

  // CI installs docker-compose (.ci/run), so there the checks below never go unrun.
  it("can be read by docker-compose here (required where CI=true)", () => {
    if (process.env.CI)
      expect(COMPOSE_VERSION, "docker-compose is missing: .ci/run installs it").toBeDefined();
  });
});

describe.skipIf(COMPOSE_VERSION === undefined)("docker-compose.yml as docker-compose reads it", () => {
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.endsWith("_HOST_PORT") && !k.startsWith("COMPOSE_")),
  );

  function compose(args: readonly string[]): string {
    const r = spawnSync("docker-compose", ["-f", "docker-compose.yml", ...args], {
      cwd: ROOT,
      env,
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`docker-compose ${args.join(" ")} failed:\n${r.stderr}`);
    return r.stdout;
  }

  let cached: ComposeConfig | undefined;
  /** The resolved project with the sqs profile on (a fresh copy each time: tests edit it). */
  function resolved(): ComposeConfig {
    cached ??= resolve();
    return structuredClone(cached);
  }

  function resolve(): ComposeConfig {
    if (!COMPOSE_VERSION!.startsWith("1.")) {
      return JSON.parse(compose(["--profile", "sqs", "config", "--format", "json"])) as ComposeConfig;
    }
    // Compose v1 prints YAML only; it runs on Python with PyYAML, which turns it into JSON.
    const yaml = compose(["--profile", "sqs", "config"]);
    const r = spawnSync(
      "python3",
      ["-c", "import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)"],
      { input: yaml, encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`converting docker-compose config to JSON failed:\n${r.stderr}`);
    return JSON.parse(r.stdout) as ComposeConfig;
  }

  it("is valid, with and without the sqs profile", () => {
    expect(compose(["config", "-q"])).toBe("");
    expect(compose(["--profile", "sqs", "config", "-q"])).toBe("");
  }, 30_000);

  it("runs the relay and the simulator from this image beside the servers, wired to each other", () => {
    expect(checkComposeConfig(resolved(), ROOT)).toEqual([]);
  }, 30_000);

  it("runs the image's containers on a read-only root file system with a tmpfs on /tmp", () => {
    const config = resolved();
    for (const name of ["relay", "relay-sqs", "dojo-sim"]) {
      const service = config.services[name]!;
      expect(service.read_only, name).toBe(true);
      expect(writablePaths(service), name).toEqual(["/tmp"]);
    }
  }, 30_000);

  it("gives each relay a configuration the relay accepts", () => {
    const config = resolved();
    const imageEnv = Object.fromEntries(envOf(stagesOf(parseDockerfile(DOCKERFILE)).at(-1)!));
    for (const [name, source] of [
      ["relay", "kafka"],
      ["relay-sqs", "sqs"],
    ] as const) {
      const environment = config.services[name]!.environment ?? {};
      const relayEnv = {
        ...imageEnv,
        ...Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, String(v ?? "")])),
      };
      const loaded = loadConfig(relayEnv);
      expect(loaded.source).toBe(source);
      expect(loaded.httpPort).toBe(8080);
      expect(loaded.dojo.baseUrl).toMatch(/^http:\/\/dojo-sim:\d+\/?$/);
      // Plain HTTP to a host that is not loopback is accepted only because the file allows it.
      expect(() => loadConfig({ ...relayEnv, DOJO_ALLOW_INSECURE_HTTP: "false" })).toThrow(
        /DOJO_BASE_URL: http:\/\/ to dojo-sim is refused/,
      );
      expect(loaded.ledger.url).toContain("@postgres:5432/");
      // The compose network's PostgreSQL has no TLS; the default for a non-loopback host would demand it.
      expect(loaded.ledger.postgres?.ssl).toBe("disable");
    }
  }, 30_000);

  it.each([
    ["relay without a health wait on kafka", (c: Mutable) => delete c.services.relay.depends_on.kafka],
    [
      "relay on the host's Kafka",
      (c: Mutable) => (c.services.relay.environment.KAFKA_BROKERS = "127.0.0.1:9092"),
    ],
    [
      "relay-sqs on another SQS endpoint",
      (c: Mutable) => (c.services["relay-sqs"].environment.SQS_ENDPOINT = "http://localhost:9324"),
    ],
    ["relay-sqs started by default", (c: Mutable) => delete c.services["relay-sqs"].profiles],
    ["dojo-sim without a health check", (c: Mutable) => delete c.services["dojo-sim"].healthcheck],
    [
      "dojo-sim on loopback only",
      (c: Mutable) => (c.services["dojo-sim"].command = ["dojo-sim", "--port", "8090"]),
    ],
    [
      "the relay with a key the simulator refuses",
      (c: Mutable) => (c.services.relay.environment.DOJO_API_KEY = "sk_sandbox_other"),
    ],
    ["the relay from another image", (c: Mutable) => (c.services.relay.image = "node:24-alpine")],
    ["the relay with a writable root file system", (c: Mutable) => delete c.services.relay.read_only],
    ["relay-sqs with read_only false", (c: Mutable) => (c.services["relay-sqs"].read_only = false)],
    ["dojo-sim with a writable root file system", (c: Mutable) => delete c.services["dojo-sim"].read_only],
    ["the relay without a writable /tmp", (c: Mutable) => delete c.services.relay.tmpfs],
    [
      "relay-sqs with /tmp mounted read-only",
      (c: Mutable) => {
        delete c.services["relay-sqs"].tmpfs;
        c.services["relay-sqs"].volumes = ["scratch:/tmp:ro"];
      },
    ],
    [
      "the relay without DOJO_ALLOW_INSECURE_HTTP for the simulator's plain HTTP",
      (c: Mutable) => delete c.services.relay.environment.DOJO_ALLOW_INSECURE_HTTP,
    ],
  ])(
    "fails when broken: %s",
    (_, edit) => {
      const config = resolved() as unknown as Mutable;
      edit(config);
      expect(checkComposeConfig(config as unknown as ComposeConfig, ROOT)).not.toEqual([]);
    },
    30_000,
  );
});

// biome-ignore lint/suspicious/noExplicitAny: a resolved compose file edited freely by the tests above
type Mutable = { services: Record<string, any> };
