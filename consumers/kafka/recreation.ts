// The periodic check of the input topic: that it exists (a topic seen missing that exists again was
// recreated), that no partition ends below what was read or starts above an offset still in progress,
// and that the group's committed offsets did not go back. A consumer crash naming an unknown topic or
// partition counts as seeing the topic missing (see crash.ts).
import type { OffsetCommits } from "./commits.ts";
import type { InputState } from "./input-state.ts";

export class TopicWatch {
  readonly #s: InputState;
  readonly #commits: OffsetCommits;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;

  constructor(state: InputState, commits: OffsetCommits) {
    this.#s = state;
    this.#commits = commits;
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => void this.check(), intervalMs);
  }

  stopTimer(): void {
    clearInterval(this.#timer);
  }

  /** The check in progress, if any. */
  get running(): Promise<void> | undefined {
    return this.#checking;
  }

  /** The topic was reported unknown (by a consumer crash): treat it as seen missing. */
  reportedMissing(): void {
    const s = this.#s;
    if (s.topicMissing) return;
    s.topicMissing = true;
    s.log.warn(
      { topic: s.topic },
      "the consumer found the input topic or a partition unknown; treating the topic as deleted: nothing is committed, and if it exists again the relay stops",
    );
    void this.check();
  }

  check(): Promise<void> {
    if (this.#checking !== undefined) return this.#checking;
    const s = this.#s;
    const admin = s.admin;
    if (admin === undefined || s.stopping || s.offsetsUntrusted) return Promise.resolve();
    const topic = s.topic;
    this.#checking = (async () => {
      if (!(await admin.listTopics()).includes(topic)) {
        if (!s.topicMissing) {
          s.topicMissing = true;
          s.log.error(
            { topic, alert: true },
            "input topic is missing; nothing is committed, and if it exists again the relay stops",
          );
        }
        return;
      }
      if (s.topicMissing) {
        s.offsetsWentBack(undefined, "recreated");
        return;
      }
      // Positions are taken before the offsets are asked for, so a message read meanwhile is not
      // mistaken for one beyond the end.
      const read = [...s.partitions.lanes()].map((lane) => ({ lane, readUpTo: lane.offsets.highestSeen }));
      const ends = await admin.fetchTopicOffsets(topic);
      s.health.answered();
      for (const end of ends) s.health.end(end.partition, Number(end.high), Number(end.low));
      for (const { lane, readUpTo } of read) {
        const partition = lane.partition;
        if (!s.partitions.current(partition, lane)) continue;
        const end = ends.find((e) => e.partition === partition);
        if (end === undefined) continue;
        const regression =
          lane.offsets.checkEnd(Number(end.high), readUpTo) ?? lane.offsets.checkStart(Number(end.low));
        if (regression !== undefined) {
          s.offsetsWentBack(partition, regression);
          return;
        }
      }
      await this.#commits.checkGroupBetweenCommits();
    })()
      .catch((error: unknown) => {
        s.log.warn({ err: error, topic }, "input topic check failed; trying again at the next tick");
      })
      .finally(() => {
        this.#checking = undefined;
      });
    return this.#checking;
  }
}
