import type { Admin, ITopicConfig } from "kafkajs";

/**
 * Creates topics and waits until every partition has a leader. A fresh single-node KRaft broker can
 * answer metadata requests with "does not host this topic-partition" for a moment after creation,
 * which kafkajs' own waitForLeaders does not retry, so this polls the metadata itself.
 */
export async function createTopicsAndWait(
  admin: Admin,
  topics: ITopicConfig[],
  timeoutMs = 30_000,
): Promise<void> {
  await admin.createTopics({ topics, waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics: names });
      const ready = topics.every((t) => {
        const m = meta.find((x) => x.name === t.topic);
        return (
          m !== undefined &&
          m.partitions.length === (t.numPartitions ?? 1) &&
          m.partitions.every((p) => p.leader >= 0)
        );
      });
      if (ready) return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`topics ${names.join(", ")} had no leaders after ${timeoutMs} ms: ${String(lastError)}`);
}
