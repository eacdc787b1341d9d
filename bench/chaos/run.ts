// npm run chaos: the chaos matrix. Runs each scenario in turn, prints one row per scenario, writes the
// table (with the date, the commit and the machine) into RELIABILITY.md for the full matrix, and exits
// 1 when any invariant was violated in any scenario.
//
//   npm run chaos                      the full matrix, 10,000 events per scenario
//   npm run chaos -- --small           one scenario per fault class, 1,000 events each (CI)
//   npm run chaos -- --only kafka-sqlite-sigkill,sqs-postgres-instances
//   npm run chaos -- --events 2000 --rate 200 --seed 7 --out chaos.md
//
// Needs Kafka and ElasticMQ (scripts/brokers.sh start; KAFKA_BROKERS and SQS_ENDPOINT), PostgreSQL's
// programs (a private server is started, so that it can be restarted), and chattr with root for the
// SQLite read-only scenario.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PrivatePostgres } from "../../test/support/postgres-server.ts";
import "../../test/support/quiet-warnings.ts";
import { INVARIANTS } from "./check.ts";
import { runScenario, type ScenarioResult } from "./run-scenario.ts";
import { FAULT_TEXT, FULL_MATRIX, SMALL_MATRIX, scenarioNamed } from "./scenarios.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const { values } = parseArgs({
  options: {
    small: { type: "boolean", default: false },
    only: { type: "string" },
    events: { type: "string" },
    rate: { type: "string" },
    seed: { type: "string", default: "20261201" },
    out: { type: "string" },
  },
});

const small = values.small ?? false;
const events = Number(values.events ?? (small ? 1_000 : 10_000));
const rate = Number(values.rate ?? (small ? 100 : 400));
const seed = Number(values.seed);
for (const [name, value] of Object.entries({ events, rate, seed }))
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
let scenarios = small ? SMALL_MATRIX : FULL_MATRIX;
if (values.only !== undefined) {
  const names = values.only.split(",");
  const unknown = names.filter((n) => scenarioNamed(n) === undefined);
  if (unknown.length > 0)
    throw new Error(
      `unknown scenario(s) ${unknown.join(", ")}: name them <kafka|sqs>-<sqlite|postgres>-<${Object.keys(FAULT_TEXT).join("|")}>`,
    );
  scenarios = names.map((n) => scenarioNamed(n) as NonNullable<ReturnType<typeof scenarioNamed>>);
}
const out = values.out ?? (small || values.only !== undefined ? undefined : join(root, "RELIABILITY.md"));

const logDir = join(root, "chaos-logs");
mkdirSync(logDir, { recursive: true });
let postgres: Promise<PrivatePostgres> | undefined;
const settings = {
  events,
  rate,
  seed,
  dojoFaultRate: 0.05,
  kafkaBrokers: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092",
  sqsEndpoint: process.env.SQS_ENDPOINT ?? "http://127.0.0.1:9324",
  root,
  answerTimeoutMs: small ? 120_000 : 300_000,
  logDir,
  postgres: () => {
    postgres ??= PrivatePostgres.create({ maxConnections: 200 });
    return postgres;
  },
};

const header = [
  "scenario",
  "relays",
  "messages (events)",
  "faults injected",
  "Dojo faults",
  "relay kills / exits",
  "refunds at Dojo",
  "succeeded / failed / dead letters",
  "longest pause in answers (s)",
  ...INVARIANTS,
  "seconds",
];

function row(r: ScenarioResult): string[] {
  const v = r.verdict;
  return [
    r.scenario.name,
    String(r.scenario.instances),
    `${r.messages} (${r.distinctEvents})`,
    FAULT_TEXT[r.scenario.fault],
    String(r.dojoFaults),
    `${r.kills} / ${r.relayExits}`,
    String(v.refundsAtDojo),
    `${v.answers.succeeded} / ${v.answers.failed} / ${v.answers.deadLettered}`,
    (v.longestGapMs / 1000).toFixed(1),
    ...INVARIANTS.map((name) => String(v.violations[name])),
    String(r.seconds),
  ];
}

const table = (rows: string[][]) =>
  [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");

const results: ScenarioResult[] = [];
const started = Date.now();
try {
  for (const scenario of scenarios) {
    console.error(`chaos: ${scenario.name} (${FAULT_TEXT[scenario.fault]}), ${events} events at ${rate}/s`);
    const result = await runScenario(scenario, settings);
    results.push(result);
    const v = result.verdict;
    const broken = INVARIANTS.filter((name) => v.violations[name] > 0);
    console.error(
      `chaos: ${scenario.name}: ${broken.length === 0 ? "every invariant held" : `VIOLATED ${broken.join(", ")}`} in ${result.seconds} s` +
        `; ${v.refundsAtDojo} refunds, ${v.answers.succeeded}/${v.answers.failed}/${v.answers.deadLettered} answers, ${result.kills} kills, ${result.relayExits} relay exits`,
    );
    for (const name of broken) for (const e of v.examples[name]) console.error(`  ${name}: ${e}`);
    for (const note of result.notes) console.error(`  note: ${note}`);
  }
} finally {
  if (postgres !== undefined) await (await postgres).cleanup().catch(() => {});
}

const rows = results.map(row);
const commit = (() => {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
})();
const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? "unknown CPU"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const violations = results.reduce(
  (sum, r) => sum + INVARIANTS.reduce((s, name) => s + r.verdict.violations[name], 0),
  0,
);
const report = [
  `Run ${new Date().toISOString().slice(0, 10)}, commit ${commit}, ${machine}.`,
  `${results.length} scenario(s), ${events} messages each at ${rate}/s, seed ${seed}, 5% Dojo faults; ${Math.round((Date.now() - started) / 1000)} s in all; ${violations} violation(s).`,
  "",
  table(rows),
  ...results.flatMap((r) => r.notes.map((n) => `\nNote on ${r.scenario.name}: ${n}`)),
].join("\n");
console.log(report);

if (out !== undefined) {
  const START = "<!-- chaos-matrix:start -->";
  const END = "<!-- chaos-matrix:end -->";
  let text = "";
  try {
    text = readFileSync(out, "utf8");
  } catch {
    text = `${START}\n${END}\n`;
  }
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${out} has no ${START} ... ${END} markers for the table`);
  writeFileSync(out, `${text.slice(0, a + START.length)}\n${report}\n${text.slice(b)}`);
  console.error(`chaos: table written to ${out}`);
}
process.exitCode = violations > 0 || results.some((r) => r.notes.length > 0) ? 1 : 0;
