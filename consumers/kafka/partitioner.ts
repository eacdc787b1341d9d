// The partitioner for the relay's own records. It places every record exactly where kafkajs's
// DefaultPartitioner (the Java client's murmur2 rule) would, so outcomes of one payment intent stay on
// the partition earlier versions of the relay and other Kafka clients put them on. It computes the
// hash with 32-bit integer arithmetic instead of kafkajs's 64-bit Long objects, which allocated
// several kilobytes per record.
import { randomBytes } from "node:crypto";
import type { ICustomPartitioner, PartitionerArgs } from "kafkajs";

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 of the key's bytes (a string key is taken as UTF-8), as a signed 32-bit integer. */
export function murmur2(key: Buffer | string): number {
  const data = typeof key === "string" ? Buffer.from(key) : key;
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // The one to three bytes left over, highest first, then one more mixing step.
  const left = length & 3;
  if (left > 0) {
    if (left === 3) h ^= data[whole + 2]! << 16;
    if (left >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

const positive = (x: number) => x & 0x7fffffff;

/**
 * A keyed record goes to murmur2(key) modulo the partition count; an explicit partition wins; a record
 * without a key goes round-robin over the partitions that have a leader, from a random start per topic.
 */
export const KeyHashPartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }: PartitionerArgs): number => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined) {
      return positive(murmur2(message.key)) % partitionMetadata.length;
    }
    const next = (counters.get(topic) ?? randomBytes(4).readUInt32BE(0)) + 1;
    counters.set(topic, next);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length > 0) return available[positive(next) % available.length]!.partitionId;
    return positive(next) % partitionMetadata.length;
  };
};
