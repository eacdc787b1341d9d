// What the Dockerfile, .dockerignore and docker-compose.yml promise, as checks that return the broken
// promises (an empty list when all hold). They read text, so they run without a Docker engine, and the
// tests run them on the real files and on copies with one promise broken each.

export interface Instruction {
  /** Upper-cased, e.g. "FROM". */
  readonly keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  readonly args: string;
  /** 1-based line of the keyword. */
  readonly line: number;
}

export interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/** Instructions of a Dockerfile: comments and blank lines dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: { line: number; text: string } | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    // Comment lines are dropped, also inside a continuation (as Docker does).
    if (trimmed.startsWith("#") || (trimmed === "" && pending === undefined)) return;
    const continues = /\\\s*$/.test(raw);
    const part = continues ? raw.replace(/\\\s*$/, "") : raw;
    pending =
      pending === undefined
        ? { line: index + 1, text: part }
        : { ...pending, text: `${pending.text} ${part}` };
    if (continues && index < lines.length - 1) return;
    const joined = pending.text.trim();
    const space = joined.search(/\s/);
    out.push({
      keyword: (space < 0 ? joined : joined.slice(0, space)).toUpperCase(),
      args: space < 0 ? "" : joined.slice(space).trim().replace(/\s+/g, " "),
      line: pending.line,
    });
    pending = undefined;
  });
  return out;
}

/** Leading `--flag[=value]` words and the rest. */
export function splitFlags(args: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let rest = args.trim();
  for (let m = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest); m; m = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest)) {
    flags.set(m[1]!, m[2] ?? "");
    rest = rest.slice(m[0].length);
  }
  return { flags, rest };
}

/** The words of an exec-form (JSON array) argument, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.trim().startsWith("[")) return undefined;
  try {
    const value: unknown = JSON.parse(args);
    return Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined;
  } catch {
    return undefined;
  }
}

export function stagesOf(instructions: readonly Instruction[]): Stage[] {
  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const words = splitFlags(instruction.args).rest.split(" ");
      const as = words.findIndex((w) => w.toUpperCase() === "AS");
      stages.push({ image: words[0] ?? "", name: as > 0 ? words[as + 1] : undefined, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

export interface CopyInstruction {
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly destination: string;
}

export function copiesOf(stage: Stage): CopyInstruction[] {
  return stage.instructions
    .filter((i) => i.keyword === "COPY" || i.keyword === "ADD")
    .map((i) => {
      const { flags, rest } = splitFlags(i.args);
      const words = execForm(rest) ?? rest.split(" ");
      return {
        from: flags.get("from"),
        sources: words.slice(0, -1).map((s) => s.replace(/^\.\//, "").replace(/\/$/, "")),
        destination: words.at(-1) ?? "",
      };
    });
}

/** `ENV a=b c=d` and the old `ENV a b` form. */
export function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const i of stage.instructions.filter((x) => x.keyword === "ENV")) {
    if (!i.args.includes("=") || /^\S+\s/.test(i.args.split("=")[0] ?? "")) {
      const [name, ...value] = i.args.split(" ");
      env.set(name ?? "", value.join(" "));
      continue;
    }
    for (const m of i.args.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
      env.set(m[1]!, m[2]!.replace(/^"(.*)"$/, "$1"));
    }
  }
  return env;
}

/** The files the runtime stage takes from the build context, in this order. */
export const RUNTIME_SOURCES = ["package.json", "bin", "src", "consumers", "schemas"] as const;

const NODE_IMAGE = /^node:24\.(\d+)-bookworm-slim$/;

/**
 * The Dockerfile's promises. `nodeMinor`: the Node.js 24 minor version CI tests with; the image must
 * use the same one.
 */
export function checkDockerfile(text: string, nodeMinor: number): string[] {
  const problems: string[] = [];
  const instructions = parseDockerfile(text);
  const unknown = instructions.filter((i) => !KNOWN_INSTRUCTIONS.has(i.keyword));
  for (const i of unknown) problems.push(`line ${i.line}: unknown instruction ${i.keyword}`);
  const stages = stagesOf(instructions);
  if (stages.length < 2)
    return [...problems, `multi-stage: ${stages.length} stage(s), want a deps and a runtime stage`];
  const runtime = stages.at(-1)!;
  const builders = stages.slice(0, -1);

  for (const stage of stages) {
    const m = NODE_IMAGE.exec(stage.image);
    if (!m) problems.push(`FROM ${stage.image}: want node:24.<minor>-bookworm-slim (an exact minor tag)`);
    else if (Number(m[1]) !== nodeMinor) problems.push(`FROM ${stage.image}: CI tests Node 24.${nodeMinor}`);
  }

  // Dependencies: installed in an earlier stage without dev dependencies, never in the runtime stage.
  const deps = builders.find((s) =>
    s.instructions.some((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args)),
  );
  if (deps === undefined) problems.push("no earlier stage runs npm ci");
  else {
    const install = deps.instructions.find((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args))!;
    if (!/--omit=dev\b/.test(install.args)) problems.push(`line ${install.line}: npm ci without --omit=dev`);
    if (/--include=dev\b|--production=false\b/.test(install.args)) {
      problems.push(`line ${install.line}: npm ci includes dev dependencies`);
    }
    if (deps.name === undefined) problems.push("the deps stage has no name (FROM ... AS deps)");
    const depSources = copiesOf(deps).flatMap((c) => (c.from === undefined ? c.sources : []));
    if (depSources.join(",") !== "package.json,package-lock.json") {
      problems.push(
        `the deps stage copies ${depSources.join(", ")}: want package.json and package-lock.json only`,
      );
    }
  }
  for (const i of runtime.instructions.filter((x) => x.keyword === "RUN")) {
    if (/\b(npm|npx|yarn|pnpm|corepack)\s+(ci|i|install|add|exec)\b/.test(i.args)) {
      problems.push(`line ${i.line}: the runtime stage installs packages`);
    }
  }
  const copies = copiesOf(runtime);
  const modules = copies.filter((c) => c.sources.some((s) => /(^|\/)node_modules$/.test(s)));
  if (modules.length !== 1 || deps === undefined || modules[0]!.from !== deps.name) {
    problems.push("the runtime stage must take node_modules from the deps stage (COPY --from=deps), once");
  }
  const fromContext = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources);
  if (fromContext.join(",") !== RUNTIME_SOURCES.join(",")) {
    problems.push(`the runtime stage copies ${fromContext.join(", ")}: want ${RUNTIME_SOURCES.join(", ")}`);
  }
  if (copies.some((c) => c.from !== undefined && c.from !== deps?.name)) {
    problems.push("the runtime stage copies from a stage other than deps");
  }

  const env = envOf(runtime);
  if (env.get("NODE_ENV") !== "production") problems.push("runtime: ENV NODE_ENV=production missing");
  if (env.get("HTTP_PORT") !== "8080") problems.push("runtime: ENV HTTP_PORT=8080 missing");
  const exposed = runtime.instructions
    .filter((i) => i.keyword === "EXPOSE")
    .flatMap((i) => i.args.split(" "));
  if (!exposed.some((p) => p === "8080" || p === "8080/tcp")) problems.push("runtime: EXPOSE 8080 missing");

  // The user the container runs as is the last USER of the last stage.
  const user = runtime.instructions.filter((i) => i.keyword === "USER").at(-1);
  const name = user?.args.split(":")[0];
  if (name !== "node" && name !== "1000")
    problems.push(`runtime: runs as ${name ?? "root"}, want USER node (uid 1000)`);
  const afterUser =
    user === undefined ? [] : runtime.instructions.slice(runtime.instructions.indexOf(user) + 1);
  if (afterUser.some((i) => i.keyword === "COPY" || i.keyword === "ADD")) {
    // Files copied after USER would still be root's, but the point is the order reads as intended.
    problems.push("runtime: COPY after USER");
  }

  const checks = runtime.instructions.filter((i) => i.keyword === "HEALTHCHECK");
  if (checks.length !== 1) problems.push(`runtime: ${checks.length} HEALTHCHECK instructions, want 1`);
  else {
    const command = healthcheckCommand(checks[0]!.args);
    if (command === undefined) problems.push("HEALTHCHECK: want CMD in exec form (a JSON array)");
    else {
      const script = command.slice(1).join(" ");
      if (command[0] !== "node") problems.push("HEALTHCHECK: want node (slim images have no curl or wget)");
      if (!/\bfetch\(/.test(script)) problems.push("HEALTHCHECK: want node's fetch");
      if (!script.includes("http://127.0.0.1:") || !script.includes("/healthz")) {
        problems.push("HEALTHCHECK: want http://127.0.0.1:<HTTP_PORT>/healthz");
      }
    }
  }

  const entrypoint = runtime.instructions.filter((i) => i.keyword === "ENTRYPOINT").at(-1);
  const cmd = runtime.instructions.filter((i) => i.keyword === "CMD").at(-1);
  if (JSON.stringify(execForm(entrypoint?.args ?? "")) !== JSON.stringify(["node", "bin/refund-relay.js"])) {
    problems.push('runtime: want ENTRYPOINT ["node", "bin/refund-relay.js"]');
  }
  if (JSON.stringify(execForm(cmd?.args ?? "")) !== JSON.stringify(["start"]))
    problems.push('runtime: want CMD ["start"]');
  return problems;
}

/** The command of `HEALTHCHECK [options] CMD [...]`, when in exec form. */
export function healthcheckCommand(args: string): string[] | undefined {
  const { rest } = splitFlags(args);
  const m = /^CMD\s+(.*)$/i.exec(rest);
  return m ? execForm(m[1]!) : undefined;
}

const KNOWN_INSTRUCTIONS = new Set([
  "FROM",
  "RUN",
  "CMD",
  "LABEL",
  "EXPOSE",
  "ENV",
  "ADD",
  "COPY",
  "ENTRYPOINT",
  "VOLUME",
  "USER",
  "WORKDIR",
  "ARG",
  "ONBUILD",
  "STOPSIGNAL",
  "HEALTHCHECK",
  "SHELL",
]);

/**
 * A .dockerignore as Docker reads it: patterns relative to the context root (a leading `/` and `./`
 * dropped), `*` and `?` within one path segment, `**` across any number of them, `!` re-including;
 * the last matching line wins, and a pattern that matches a directory matches everything in it.
 */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const include = l.startsWith("!");
      const pattern = (include ? l.slice(1) : l)
        .trim()
        .replace(/^\.?\/+/, "")
        .replace(/\/+$/, "");
      return { include, regex: globRegex(pattern) };
    });
  return (path) => {
    const segments = path.split("/");
    let excluded = false;
    for (const rule of rules) {
      // The path itself or any directory above it.
      const hit = segments.some((_, i) => rule.regex.test(segments.slice(0, i + 1).join("/")));
      if (hit) excluded = !rule.include;
    }
    return excluded;
  };
}

function globRegex(pattern: string): RegExp {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      const slash = pattern[i + 2] === "/";
      out += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

/** Paths the context must never send, and paths the image needs. */
export const MUST_IGNORE = [
  "node_modules/kafkajs/package.json",
  "src/node_modules/x/index.js",
  ".git/HEAD",
  ".brokers/kafka.log",
  "data/refund-relay.db",
  "test/unit/config.test.ts",
  "src/config.test.ts",
  "bench/results/kafka.json",
  "relay.log",
  "coverage/index.html",
  ".env",
] as const;
export const MUST_KEEP = [
  "package.json",
  "package-lock.json",
  "bin/refund-relay.js",
  "src/cli/main.ts",
] as const;

export function checkDockerignore(text: string): string[] {
  const ignored = dockerignore(text);
  return [
    ...MUST_IGNORE.filter((p) => !ignored(p)).map((p) => `.dockerignore: ${p} is sent to the build`),
    ...MUST_KEEP.filter((p) => ignored(p)).map((p) => `.dockerignore: ${p} is left out of the build`),
  ];
}

/** Host ports a developer's own servers use (PostgreSQL, scripts/brokers.sh, the README's examples). */
export const LOCAL_PORTS = [5432, 9092, 9093, 9324, 8080, 8090, 8099] as const;

export interface PublishedPort {
  readonly hostIp: string;
  readonly hostPort: number;
  readonly containerPort: number;
}

/**
 * Published ports as written in docker-compose.yml, `${VAR:-default}` taken at its default: every one
 * must be on 127.0.0.1, none on a port a local server uses, no two the same.
 */
export function composePortsOf(text: string): PublishedPort[] {
  const ports: PublishedPort[] = [];
  for (const m of text.matchAll(/^\s*-\s*"([^"]*:[^"]*)"\s*$/gm)) {
    const resolved = m[1]!.replace(/\$\{\w+:-(\d+)\}/g, "$1");
    const parts = resolved.replace(/\/tcp$/, "").split(":");
    if (parts.length !== 3) {
      ports.push({ hostIp: "", hostPort: Number(parts.at(-2)), containerPort: Number(parts.at(-1)) });
    } else ports.push({ hostIp: parts[0]!, hostPort: Number(parts[1]), containerPort: Number(parts[2]) });
  }
  return ports;
}

export function checkPorts(ports: readonly PublishedPort[]): string[] {
  const problems: string[] = [];
  const seen = new Set<number>();
  for (const p of ports) {
    if (p.hostIp !== "127.0.0.1")
      problems.push(`port ${p.hostPort}: published on ${p.hostIp || "every address"}`);
    if ((LOCAL_PORTS as readonly number[]).includes(p.hostPort)) {
      problems.push(`port ${p.hostPort}: clashes with a local server`);
    }
    if (seen.has(p.hostPort)) problems.push(`port ${p.hostPort}: published twice`);
    seen.add(p.hostPort);
  }
  return problems;
}

/** A service of `docker-compose config`, the fields these checks read. */
export interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context?: string; readonly dockerfile?: string } | string;
  readonly command?: readonly string[] | string;
  readonly profiles?: readonly string[];
  readonly environment?: Readonly<Record<string, string | number | boolean | null>>;
  readonly depends_on?: Readonly<Record<string, { readonly condition?: string }>> | readonly string[];
  readonly healthcheck?: { readonly test?: readonly string[] | string; readonly disable?: boolean };
  readonly ports?: readonly (string | { host_ip?: string; published?: string | number; target?: number })[];
  readonly read_only?: boolean;
  /** Compose v1 and v2 print a list of `path[:options]`; a single string is allowed when written. */
  readonly tmpfs?: readonly string[] | string;
  readonly volumes?: readonly (string | { readonly type?: string; readonly target?: string })[];
}

export interface ComposeConfig {
  readonly services: Readonly<Record<string, ComposeService>>;
}

/** Published ports of a resolved service (Compose v1 prints strings, v2 objects). */
export function publishedPorts(service: ComposeService): PublishedPort[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === "string") return composePortsOf(`- "${p}"`)[0]!;
    return { hostIp: p.host_ip ?? "", hostPort: Number(p.published), containerPort: Number(p.target) };
  });
}

function envOfService(service: ComposeService | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(service?.environment ?? {}).map(([k, v]) => [k, String(v ?? "")]));
}

function commandOf(service: ComposeService | undefined): string[] {
  const c = service?.command;
  return c === undefined ? [] : typeof c === "string" ? c.split(/\s+/) : [...c];
}

/** Paths a service can write although its root file system is read-only: its tmpfs mounts and volumes. */
export function writablePaths(service: ComposeService): string[] {
  const tmpfs = typeof service.tmpfs === "string" ? [service.tmpfs] : (service.tmpfs ?? []);
  const volumes = (service.volumes ?? []).flatMap((v) => {
    if (typeof v !== "string") return v.target === undefined ? [] : [v.target];
    const parts = v.split(":");
    // `source:target[:mode]`, or an anonymous volume's `target`; a read-only one is no place to write.
    if (parts.at(-1) === "ro") return [];
    return [parts.length === 1 ? parts[0]! : parts[1]!];
  });
  return [...tmpfs.map((t) => t.split(":")[0]!), ...volumes].map((p) => p.replace(/\/$/, ""));
}

function optionOf(words: readonly string[], name: string): string | undefined {
  const i = words.indexOf(name);
  return i < 0 ? undefined : words[i + 1];
}

/** The resolved compose project's promises; `context`: the absolute path of the repository. */
export function checkComposeConfig(config: ComposeConfig, context: string): string[] {
  const problems: string[] = [];
  const s = config.services;
  const always = ["kafka", "elasticmq", "postgres", "dojo-sim", "relay"];
  for (const name of always) {
    if (s[name] === undefined) problems.push(`service ${name} missing`);
    else if ((s[name].profiles ?? []).length > 0)
      problems.push(`service ${name} needs a profile: docker compose up must start it`);
  }
  if (!(s["relay-sqs"]?.profiles ?? []).includes("sqs"))
    problems.push("service relay-sqs missing or not under the sqs profile");
  if (problems.length > 0) return problems;

  for (const name of ["kafka", "elasticmq", "postgres", "dojo-sim"]) {
    const test = s[name]!.healthcheck?.test;
    const words = typeof test === "string" ? [test] : (test ?? []);
    if (s[name]!.healthcheck?.disable === true || words.length === 0 || words[0] === "NONE") {
      problems.push(`service ${name} has no health check`);
    }
  }

  // The relays and the simulator run this repository's image.
  for (const name of ["dojo-sim", "relay", "relay-sqs"]) {
    const b = s[name]!.build;
    const build = typeof b === "string" ? { context: b, dockerfile: "Dockerfile" } : b;
    if (
      build?.context?.replace(/\/$/, "") !== context.replace(/\/$/, "") ||
      (build.dockerfile ?? "Dockerfile") !== "Dockerfile"
    ) {
      problems.push(`service ${name} is not built from the repository's Dockerfile`);
    }
    if (s[name]!.image !== s.relay!.image) problems.push(`service ${name} runs another image than relay`);
    // Nothing in the container may change the code or the image's files: a read-only root file
    // system, with /tmp writable (a tmpfs or a volume). A relay on an SQLite ledger would also need
    // /app/data; the relays here use the postgres service (checked below).
    if (s[name]!.read_only !== true) problems.push(`service ${name}: read_only is not true`);
    if (!writablePaths(s[name]!).includes("/tmp"))
      problems.push(`service ${name}: /tmp is not a tmpfs or a volume`);
  }

  const sim = commandOf(s["dojo-sim"]);
  const simPort = optionOf(sim, "--port");
  const simKey = optionOf(sim, "--api-key");
  if (
    sim[0] !== "dojo-sim" ||
    optionOf(sim, "--host") !== "0.0.0.0" ||
    simPort === undefined ||
    simKey === undefined
  ) {
    problems.push("dojo-sim: want command dojo-sim --host 0.0.0.0 --port <n> --api-key <key>");
  }

  const advertised = envOfService(s.kafka).KAFKA_ADVERTISED_LISTENERS ?? "";
  const relays = [
    { name: "relay", source: "kafka", needs: ["kafka", "postgres", "dojo-sim"] },
    { name: "relay-sqs", source: "sqs", needs: ["elasticmq", "postgres", "dojo-sim"] },
  ];
  for (const { name, source, needs } of relays) {
    const service = s[name]!;
    const env = envOfService(service);
    const command = commandOf(service);
    if (command.length > 0 && command.join(" ") !== "start")
      problems.push(`${name}: command ${command.join(" ")}`);
    const deps = service.depends_on;
    for (const need of needs) {
      const condition = Array.isArray(deps)
        ? undefined
        : (deps as Record<string, { condition?: string }>)?.[need]?.condition;
      if (condition !== "service_healthy") problems.push(`${name}: does not wait for ${need} to be healthy`);
    }
    if (env.RELAY_SOURCE !== source)
      problems.push(`${name}: RELAY_SOURCE=${env.RELAY_SOURCE}, want ${source}`);
    if (env.DOJO_BASE_URL !== `http://dojo-sim:${simPort}`)
      problems.push(`${name}: DOJO_BASE_URL does not name dojo-sim:${simPort}`);
    // The simulator serves plain HTTP on a host that is not loopback: the relay refuses that unless told.
    if (env.DOJO_ALLOW_INSECURE_HTTP !== "true")
      problems.push(`${name}: DOJO_ALLOW_INSECURE_HTTP is not true (plain HTTP to dojo-sim is refused)`);
    if (env.DOJO_API_KEY !== simKey) problems.push(`${name}: DOJO_API_KEY is not a key dojo-sim accepts`);
    if (!/^postgres(ql)?:\/\/[^@]+@postgres:5432\//.test(env.LEDGER_URL ?? "")) {
      problems.push(`${name}: LEDGER_URL is not the postgres service`);
    }
    if (env.HTTP_PORT !== "8080") problems.push(`${name}: HTTP_PORT=${env.HTTP_PORT}, want 8080`);
    if (!publishedPorts(service).some((p) => p.containerPort === 8080))
      problems.push(`${name}: port 8080 not published`);
    if (source === "kafka") {
      const brokers = (env.KAFKA_BROKERS ?? "").split(",");
      if (
        brokers.length === 0 ||
        !brokers.every((b) => b.startsWith("kafka:") && advertised.includes(`//${b}`))
      ) {
        problems.push(
          `${name}: KAFKA_BROKERS=${env.KAFKA_BROKERS} is not a listener kafka advertises in the network`,
        );
      }
    } else {
      const endpoint = env.SQS_ENDPOINT ?? "";
      if (!/^http:\/\/elasticmq:9324\/?$/.test(endpoint))
        problems.push(`${name}: SQS_ENDPOINT is not the elasticmq service`);
      if (env.SQS_CREATE_QUEUES !== "true") problems.push(`${name}: SQS_CREATE_QUEUES is not true`);
      for (const q of [
        "SQS_INPUT_QUEUE_URL",
        "SQS_SUCCEEDED_QUEUE_URL",
        "SQS_FAILED_QUEUE_URL",
        "SQS_DLQ_URL",
      ]) {
        if (!(env[q] ?? "").startsWith(`${endpoint.replace(/\/$/, "")}/`))
          problems.push(`${name}: ${q} is not on ${endpoint}`);
      }
    }
  }

  // Kafka's listener for the host is advertised on the port it is published on.
  // Kafka's listener for the host listens on the published container port and is advertised as the
  // published host port (clients connect to what the broker advertises).
  const listening = /EXTERNAL:\/\/[^:,]*:(\d+)/.exec(envOfService(s.kafka).KAFKA_LISTENERS ?? "")?.[1];
  const external = /EXTERNAL:\/\/127\.0\.0\.1:(\d+)/.exec(advertised)?.[1];
  const kafkaPorts = publishedPorts(s.kafka!);
  if (!kafkaPorts.some((p) => String(p.hostPort) === external && String(p.containerPort) === listening)) {
    problems.push("kafka: the EXTERNAL listener is not published on 127.0.0.1 as it is advertised");
  }
  problems.push(...checkPorts(Object.values(s).flatMap(publishedPorts)));
  return problems;
}
