// The help texts of `refund-relay reconcile` and its actions, with the environment each one reads.
import { FAILURE_CODES } from "../../schemas/index.ts";

const LEDGER_VARS = `  LEDGER_URL, LEDGER_SYNC      the ledger (default sqlite:./data/refund-relay.db)`;
const DOJO_VARS = `  DOJO_BASE_URL, DOJO_API_KEY or DOJO_API_KEY_FILE, DOJO_ACCOUNTS_FILE or DOJO_ACCOUNTS_JSON,
  DOJO_API_VERSION, DOJO_CONNECT_TIMEOUT_MS, DOJO_TIMEOUT_MS
                               the fresh read of each payment intent (the event's merchant picks the key)`;
const KAFKA_VARS = `  KAFKA_BROKERS, KAFKA_CLIENT_ID, KAFKA_SSL*, KAFKA_SASL_*
                               the brokers the outcome is published to
  KAFKA_SUCCEEDED_TOPIC, KAFKA_FAILED_TOPIC, OUTCOME_MODE
                               where and how it is published, as the relay does
  EVENT_SOURCE                 the outcome's CloudEvents source`;
const CHECKED = `The rest of the environment is checked as for \`refund-relay start\` (a bad value is a configuration
error), except that KAFKA_BROKERS is only required where Kafka is used. Secrets are never printed.`;
const EXITS =
  "exit status: 0 ok, 1 failure (not found, already settled, publish failed), 2 usage or configuration error.";

/** Words of \`text\` in lines of at most \`width\` characters, each starting with \`indent\`. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = indent;
  for (const word of text.split(" ")) {
    if (line.length + word.length > width && line.trim() !== "") {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += `${word} `;
  }
  lines.push(line.trimEnd());
  return lines.join("\n");
}

export const HELP = `usage: refund-relay reconcile <list|show|settle|publish> [options]

Events the relay parked for a person (Dojo's answer stayed unknown, the retry budget ran out, an internal
error, a merchant without a key) wait in the ledger until someone settles them.

  list [--json] [--limit <n>]              the open parked events, with a fresh read of each payment intent
  show <eventId> [--source <s>] [--json]   one event in full: ledger row, stored event, outcome, audit
  settle <eventId> [--source <s>] --as succeeded --refund-id <id> --reason <why> [--actor <who>]
  settle <eventId> [--source <s>] --as failed --code <code> --reason <why> [--actor <who>]
                                           store the outcome with an audit record and publish it
  publish <eventId> --source <s>           publish an event's stored outcome again

Run \`refund-relay reconcile <command> --help\` for details.

${EXITS}
`;

export const LIST_HELP = `usage: refund-relay reconcile list [--json] [--limit <n>]

Lists open events parked for a person, oldest first: source and id, payment intent, amount, state,
Dojo attempts, why and when it was parked, and what a fresh read of the payment intent says (status,
captured, refunded) or "unreadable: <error code>".

options:
  --json        one JSON object per line instead of a table
  --limit <n>   at most n events (default 100)
  -h, --help    show this help

environment:
${LEDGER_VARS}
${DOJO_VARS}

${CHECKED}

${EXITS}
`;

export const SHOW_HELP = `usage: refund-relay reconcile show <eventId> [--source <source>] [--json]

Shows one event in full: the ledger row, the event as received, the stored outcome, the audit records,
and a fresh read of the payment intent. Without --source the event is looked up among the parked events;
give --source for any other event.

environment:
${LEDGER_VARS}
${DOJO_VARS}

${CHECKED}

${EXITS}
`;

export const SETTLE_HELP = `usage: refund-relay reconcile settle <eventId> [--source <source>] --as succeeded --refund-id <id> --reason <why>
       refund-relay reconcile settle <eventId> [--source <source>] --as failed --code <code> --reason <why>

Settles an open event by hand: builds its refund.succeeded or refund.failed from the event kept in the
ledger (the same ids and fields the relay would use), stores it with an audit record (who, why), publishes
it to the outcome topic keyed by payment intent id, and marks it published. Check Dojo first (\`show\`):
settle as succeeded only with the id of the refund that paid this return, as failed only when no refund
for it exists and none will.

options:
  --source <s>      the event's CloudEvents source (default: the only parked event with this id)
  --as <outcome>    succeeded or failed
  --refund-id <id>  with --as succeeded: the Dojo refund (or reversal) id
  --code <code>     with --as failed, one of:
${wrap(FAILURE_CODES.join(", "), 100, "                      ")}
  --reason <why>    required: why it is settled this way (kept in the audit record; the failure message)
  --actor <who>     who settles it (default $USER, else "unknown")
  --force           settle an open event that is not parked (a relay may still be working on it)
  --dry-run         print the outcome; change nothing, publish nothing
  -h, --help        show this help

environment:
${LEDGER_VARS}
${KAFKA_VARS}
  USER                         the default actor

${CHECKED}

${EXITS}
`;

export const PUBLISH_HELP = `usage: refund-relay reconcile publish <eventId> --source <source>

Publishes the stored outcome of a settled event again and marks it published: for an event settled by
hand whose publication failed. Consumers receive the same outcome id again, which they treat as a
duplicate.

environment:
${LEDGER_VARS}
${KAFKA_VARS}

${CHECKED}

${EXITS}
`;
