import type { Kafka } from "kafkajs";

export class MissingTopicsError extends Error {
  override readonly name = "MissingTopicsError";
}

/**
 * Checks that the relay's topics exist before it starts, so a typo in a topic name fails at start-up
 * with the names instead of as a broker error later. With `create`, missing topics are created with
 * the broker's default partition count and replication factor.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: readonly string[],
  create: boolean,
): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = [...new Set(topics)].filter((t) => !existing.has(t));
    if (missing.length === 0) return [];
    if (!create) {
      throw new MissingTopicsError(
        `Kafka topics missing: ${missing.join(", ")}. Create them, or set KAFKA_CREATE_TOPICS=true to let the relay create them with the broker's defaults.`,
      );
    }
    await admin.createTopics({ topics: missing.map((topic) => ({ topic })), waitForLeaders: true });
    return missing;
  } finally {
    await admin.disconnect();
  }
}
