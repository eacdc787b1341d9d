import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.ts";
import { ConfigError, type LoadOptions, loadConfig, loadLedgerConfig } from "../../src/config.ts";
import { parseConfigFile, permissionWarnings } from "../../src/config-file.ts";

const API_KEY = "sk_sandbox_Zq7LongSecretValue42";
const FILE = "/etc/refund-relay/relay.env";

const entriesOf = (text: string, path = FILE) => {
  const file = parseConfigFile(path, text);
  return {
    values: Object.fromEntries([...file.entries].map(([k, e]) => [k, e.value])),
    lines: Object.fromEntries([...file.entries].map(([k, e]) => [k, e.line])),
    problems: file.problems,
  };
};

/** Options that read `files` from memory and give them `mode`. */
function inMemory(files: Record<string, string>, mode = 0o600): LoadOptions & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      return text;
    },
    fileMode: (path) => (path in files ? mode : undefined),
    onWarning: (w) => warnings.push(w),
    warnings,
  };
}

function problemsOf(env: Record<string, string | undefined>, options: LoadOptions): readonly string[] {
  try {
    loadConfig(env, options);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}

describe("parseConfigFile, KEY=value lines", () => {
  it("skips blank lines and comments, and takes `export` and blanks around `=`", () => {
    const { values, lines, problems } = entriesOf(
      [
        "# refund-relay, eu-west",
        "",
        "RELAY_SOURCE=sqs",
        "   # an indented comment",
        "export DOJO_TIMEOUT_MS = 20000",
        "LOG_LEVEL=warn   # a comment after a value",
        "EVENT_SOURCE=urn:shop#eu",
        "DOJO_API_VERSION=",
      ].join("\n"),
    );
    expect(problems).toEqual([]);
    expect(values).toEqual({
      RELAY_SOURCE: "sqs",
      DOJO_TIMEOUT_MS: "20000",
      LOG_LEVEL: "warn",
      EVENT_SOURCE: "urn:shop#eu",
      DOJO_API_VERSION: "",
    });
    expect(lines).toEqual({
      RELAY_SOURCE: 3,
      DOJO_TIMEOUT_MS: 5,
      LOG_LEVEL: 6,
      EVENT_SOURCE: 7,
      DOJO_API_VERSION: 8,
    });
  });

  it("takes double quotes with escapes, single quotes as written, and quoted values over several lines", () => {
    const { values, lines, problems } = entriesOf(
      [
        'DOJO_API_KEY="sk_sandbox_with # and spaces "  # comment',
        "LEDGER_URL='postgres://relay:p\\a$$word@db/refunds'",
        'EVENT_SOURCE="say \\"hi\\"\\tthen\\\\n"',
        "DOJO_ACCOUNTS_JSON='{",
        '  "default": "sk_sandbox_x"',
        "}'",
        'KAFKA_SSL_CA_FILE="two\\nlines"',
        "HTTP_HOST=",
      ].join("\r\n"),
    );
    expect(problems).toEqual([]);
    expect(values.DOJO_API_KEY).toBe("sk_sandbox_with # and spaces ");
    expect(values.LEDGER_URL).toBe("postgres://relay:p\\a$$word@db/refunds");
    expect(values.EVENT_SOURCE).toBe('say "hi"\tthen\\n');
    expect(values.DOJO_ACCOUNTS_JSON).toBe('{\n  "default": "sk_sandbox_x"\n}');
    expect(values.KAFKA_SSL_CA_FILE).toBe("two\nlines");
    expect(lines.DOJO_ACCOUNTS_JSON).toBe(4);
    expect(lines.KAFKA_SSL_CA_FILE).toBe(7);
    expect(lines.HTTP_HOST).toBe(8);
  });

  it("names the file and the line of every bad line, never quoting it", () => {
    const secret = "sk_prod_DoNotPrintMe123";
    const { problems } = entriesOf(
      [
        `DOJO_API_KEY ${secret}`,
        "RELAY_SOURCE=kafka",
        `9LIVES=${secret}`,
        `DOJO_ACCOUNTS_JSON="${secret}`,
        "next line",
      ].join("\n"),
    );
    expect(problems).toEqual([
      `${FILE}:1: expected KEY=value`,
      `${FILE}:3: the key must be letters, digits and _, not starting with a digit`,
      `${FILE}:4: DOJO_ACCOUNTS_JSON: the double quote opened here is never closed`,
    ]);
    for (const p of problems) expect(p).not.toContain("DoNotPrintMe");
  });

  it("refuses text after a closing quote and a key given twice", () => {
    const { values, problems } = entriesOf(
      ['LOG_LEVEL="info" debug', "RELAY_SOURCE=kafka", "RELAY_SOURCE=sqs"].join("\n"),
    );
    expect(problems).toEqual([
      `${FILE}:1: LOG_LEVEL: unexpected text after the closing quote`,
      `${FILE}:3: RELAY_SOURCE is set twice (lines 2 and 3); keep one`,
    ]);
    expect(values).toEqual({ RELAY_SOURCE: "kafka" });
  });
});

describe("parseConfigFile, JSON", () => {
  it("takes strings, numbers and booleans as written, and objects for *_JSON settings", () => {
    const { values, lines, problems } = entriesOf(
      [
        "{",
        '  "RELAY_SOURCE": "sqs",',
        '  "DOJO_TIMEOUT_MS": 20000,',
        '  "PREFLIGHT": false,',
        '  "DOJO_ACCOUNTS_JSON": { "default": "sk_sandbox_x", "merchants": { "m1": "sk_sandbox_y" } }',
        "}",
      ].join("\n"),
      "relay.json",
    );
    expect(problems).toEqual([]);
    expect(values).toEqual({
      RELAY_SOURCE: "sqs",
      DOJO_TIMEOUT_MS: "20000",
      PREFLIGHT: "false",
      DOJO_ACCOUNTS_JSON: '{"default":"sk_sandbox_x","merchants":{"m1":"sk_sandbox_y"}}',
    });
    expect(lines).toEqual({ RELAY_SOURCE: 2, DOJO_TIMEOUT_MS: 3, PREFLIGHT: 4, DOJO_ACCOUNTS_JSON: 5 });
  });

  it("names the line of a syntax error without quoting the text, and refuses what is not a setting's value", () => {
    const broken = entriesOf(
      '{\n  "DOJO_API_KEY": "sk_prod_DoNotPrintMe123"\n  "LOG_LEVEL": "info"\n}',
      "relay.json",
    );
    expect(broken.problems).toEqual(["relay.json:3: not valid JSON"]);
    expect(entriesOf("[1, 2]", "relay.json").problems).toEqual([
      'relay.json:1: expected a JSON object of settings ({"NAME": "value", ...})',
    ]);
    expect(entriesOf('{\n"KAFKA_BROKERS": ["a:1"],\n"LOG_LEVEL": null\n}', "relay.json").problems).toEqual([
      "relay.json:2: KAFKA_BROKERS must be a string, a number or true/false",
      "relay.json:3: LOG_LEVEL must be a string, a number or true/false",
    ]);
  });
});

describe("loadConfig with a config file", () => {
  const file = [
    "KAFKA_BROKERS=file-kafka:9092",
    `DOJO_API_KEY=${API_KEY}`,
    "DOJO_TIMEOUT_MS=20000",
    "LOG_LEVEL=warn",
  ].join("\n");

  it("reads RELAY_CONFIG_FILE, the environment winning over the file", () => {
    const options = inMemory({ [FILE]: file });
    const config = loadConfig({ RELAY_CONFIG_FILE: FILE, LOG_LEVEL: "debug" }, options);
    expect(config.kafka?.brokers).toEqual(["file-kafka:9092"]);
    expect(config.dojo.timeoutMs).toBe(20_000);
    expect(config.dojo.accounts.resolve()?.authorization()).toBe(`Basic ${API_KEY}`);
    expect(config.logLevel).toBe("debug");
    expect(options.warnings).toEqual([]);
  });

  it("keeps the file's value when the environment's is blank", () => {
    const config = loadConfig({ RELAY_CONFIG_FILE: FILE, DOJO_TIMEOUT_MS: " " }, inMemory({ [FILE]: file }));
    expect(config.dojo.timeoutMs).toBe(20_000);
  });

  it("takes the file given as an option (start --config) in place of RELAY_CONFIG_FILE", () => {
    const options = { ...inMemory({ [FILE]: file }), configFile: FILE };
    expect(loadConfig({ RELAY_CONFIG_FILE: "/elsewhere.env" }, options).dojo.timeoutMs).toBe(20_000);
  });

  it("names the file and line of a bad value taken from it, and not of one from the environment", () => {
    const problems = problemsOf(
      { RELAY_CONFIG_FILE: FILE, MAX_IN_FLIGHT: "0" },
      inMemory({ [FILE]: `${file}\nRETRY_MAX_ATTEMPTS=many\nLEDGER_URL=mysql://db/x` }),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        `RETRY_MAX_ATTEMPTS (${FILE}:5): must be an integer from 1 to 1000, got "many"`,
        `LEDGER_URL (${FILE}:6): unsupported scheme "mysql"; supported: sqlite:<path>, postgres://user@host:port/database (or postgresql://)`,
        'MAX_IN_FLIGHT: must be an integer from 1 to 100000, got "0"',
      ]),
    );
  });

  it("reports the file's syntax problems and unknown keys with their lines", () => {
    const options = inMemory({
      [FILE]: `${file}\nDOJO_TIMEOT_MS=5000\nnot a setting\nRELAY_CONFIG_FILE=/other`,
    });
    expect(problemsOf({ RELAY_CONFIG_FILE: FILE }, options)).toEqual([
      `${FILE}:6: expected KEY=value`,
      `${FILE}:7: RELAY_CONFIG_FILE cannot be set in a config file`,
      `${FILE}:5: DOJO_TIMEOT_MS is not a refund-relay setting (did you mean DOJO_TIMEOUT_MS?)`,
    ]);
  });

  it("checks every key of the file, prefixed or not, and only warns about them when allowed to", () => {
    const options = inMemory({ [FILE]: `${file}\nMAX_IN_FLIGT=5\nRELAY_ALLOW_UNKNOWN_ENV=true` });
    expect(loadConfig({ RELAY_CONFIG_FILE: FILE }, options).pipeline.maxInFlight).toBe(512);
    expect(options.warnings).toEqual([
      `${FILE}:5: MAX_IN_FLIGT is not a refund-relay setting (did you mean MAX_IN_FLIGHT?); ignored (RELAY_ALLOW_UNKNOWN_ENV=true)`,
    ]);
  });

  it("names an unreadable file by the variable or flag that named it", () => {
    expect(problemsOf({ RELAY_CONFIG_FILE: "/nope.env" }, inMemory({}))).toContain(
      "RELAY_CONFIG_FILE: cannot read /nope.env (ENOENT)",
    );
    expect(problemsOf({}, { ...inMemory({}), configFile: "/nope.env" })).toContain(
      "--config: cannot read /nope.env (ENOENT)",
    );
  });

  it("serves the ledger's commands too", () => {
    const ledger = loadLedgerConfig(
      { RELAY_CONFIG_FILE: FILE },
      inMemory({ [FILE]: "LEDGER_URL=postgres://relay@db.internal/refunds\nLEDGER_POOL_SIZE=3" }),
    );
    expect(ledger.url).toBe("postgres://relay@db.internal/refunds");
    expect(ledger.postgres?.poolSize).toBe(3);
  });
});

describe("the config file's permissions", () => {
  it("warns, naming the file and the secrets' names, when its group or every user can read secrets", () => {
    expect(permissionWarnings(FILE, 0o100644, ["DOJO_API_KEY"])).toEqual([
      `RELAY_CONFIG_FILE ${FILE} holds secrets (DOJO_API_KEY) and can be read by its group and every user (mode 0644); make it readable by its owner only (chmod 600)`,
    ]);
    expect(permissionWarnings(FILE, 0o640, ["PGPASSWORD"])[0]).toContain(
      "can be read by its group (mode 0640)",
    );
    expect(permissionWarnings(FILE, 0o600, ["DOJO_API_KEY"])).toEqual([]);
    expect(permissionWarnings(FILE, 0o644, [])).toEqual([]);
  });

  it("warns when others can change it, secrets or not", () => {
    expect(permissionWarnings(FILE, 0o666, [], "--config")).toEqual([
      `--config ${FILE} can be changed by its group and every user (mode 0666), who could then change where refunds go; make it writable by its owner only`,
    ]);
  });

  it("counts secret settings and a ledger URL with a password, never showing a value", () => {
    const secret = "sk_sandbox_Zq7LongSecretValue42";
    const text = `KAFKA_BROKERS=k:9092\nDOJO_API_KEY=${secret}\nLEDGER_URL=postgres://relay:hunter2@db/x\nLEDGER_SSL=disable`;
    const options = inMemory({ [FILE]: text }, 0o644);
    loadConfig({ RELAY_CONFIG_FILE: FILE }, options);
    expect(options.warnings).toHaveLength(1);
    expect(options.warnings[0]).toContain(`${FILE} holds secrets (DOJO_API_KEY, LEDGER_URL)`);
    expect(options.warnings[0]).not.toContain(secret);
    expect(options.warnings[0]).not.toContain("hunter2");

    const harmless = inMemory({ [FILE]: `KAFKA_BROKERS=k:9092\nLEDGER_URL=postgres://relay@db/x` }, 0o644);
    loadConfig({ RELAY_CONFIG_FILE: FILE, DOJO_API_KEY: secret }, harmless);
    expect(harmless.warnings).toEqual([]);
  });

  describe.skipIf(process.platform === "win32")("on the file system", () => {
    const dir = mkdtempSync(join(tmpdir(), "relay-config-file-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("reads the file's mode itself", () => {
      const path = join(dir, "relay.env");
      writeFileSync(path, `KAFKA_BROKERS=k:9092\nDOJO_API_KEY=${API_KEY}\n`);
      const warnings: string[] = [];
      chmodSync(path, 0o644);
      loadConfig({ RELAY_CONFIG_FILE: path }, { onWarning: (w) => warnings.push(w) });
      expect(warnings).toEqual([expect.stringContaining(`${path} holds secrets (DOJO_API_KEY)`)]);
      warnings.length = 0;
      chmodSync(path, 0o600);
      loadConfig({ RELAY_CONFIG_FILE: path }, { onWarning: (w) => warnings.push(w) });
      expect(warnings).toEqual([]);
    });
  });
});

describe("refund-relay start --config", () => {
  function capture() {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const text = { out: "", err: "" };
    stdout.on("data", (c: Buffer) => (text.out += c.toString()));
    stderr.on("data", (c: Buffer) => (text.err += c.toString()));
    return { io: { stdin: new PassThrough(), stdout, stderr }, text };
  }
  const dir = mkdtempSync(join(tmpdir(), "relay-start-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("documents the flag and the unknown variables' rule in --help", async () => {
    const { io, text } = capture();
    expect(await main(["start", "--help"], io)).toBe(0);
    expect(text.out).toContain("usage: refund-relay start [--config <path>]");
    expect(text.out).toContain("RELAY_ALLOW_UNKNOWN_ENV=true");
  });

  it("exits 2 naming the file and line of a problem in it", async () => {
    const path = join(dir, "bad.env");
    writeFileSync(path, "KAFKA_BROKERS=k:9092\nDOJO_API_KY=sk_sandbox_x\nDOJO_TIMEOUT_MS=soon\n", {
      mode: 0o600,
    });
    const { io, text } = capture();
    expect(await main(["start", "--config", path], io)).toBe(2);
    expect(text.err).toContain(
      `${path}:2: DOJO_API_KY is not a refund-relay setting (did you mean DOJO_API_KEY?)`,
    );
    expect(text.err).toContain(
      `DOJO_TIMEOUT_MS (${path}:3): must be an integer from 100 to 300000, got "soon"`,
    );
    expect(text.err).not.toContain("sk_sandbox_x");
  });

  it("refuses --config without a path, and other arguments", async () => {
    const missing = capture();
    expect(await main(["start", "--config"], missing.io)).toBe(2);
    expect(missing.text.err).toContain("--config needs a path");
    const other = capture();
    expect(await main(["start", "--conf=x"], other.io)).toBe(2);
    expect(other.text.err).toContain('unexpected argument "--conf=x"');
  });
});
