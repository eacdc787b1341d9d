// Deterministic identities derived from a source event. Both are pure: the same input gives the same output in
// every process and every release, which is what makes redelivery and re-publishing safe.
import { hash } from "node:crypto";

/** Namespace of outcome event ids (UUID v5). Fixed forever: changing it would change every outcome id. */
export const OUTCOME_ID_NAMESPACE = "71bb74b0-b853-4e74-a779-7a6fe6829df2";

export const DEFAULT_IDEMPOTENCY_NAMESPACE = "rr";
export const IDEMPOTENCY_NAMESPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$/;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 100;

const SAFE_ID = /^[A-Za-z0-9._:-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function sha256Hex(text: string): string {
  return hash("sha256", text, "hex");
}

/** Namespace UUIDs as bytes; there is one namespace in practice, so this stays tiny. */
const namespaceBytes = new Map<string, Buffer>();

/** RFC 9562 UUID version 5 (SHA-1, name-based). */
export function uuidV5(namespace: string, name: string): string {
  let ns = namespaceBytes.get(namespace);
  if (ns === undefined) {
    if (!UUID.test(namespace)) throw new TypeError(`uuidV5: namespace is not a UUID: ${namespace}`);
    ns = Buffer.from(namespace.replaceAll("-", ""), "hex");
    if (namespaceBytes.size < 16) namespaceBytes.set(namespace, ns);
  }
  // One-shot hash over namespace and name in one buffer: a Hash object per call costs several times more.
  const input = Buffer.allocUnsafe(16 + Buffer.byteLength(name, "utf8"));
  ns.copy(input, 0);
  input.write(name, 16, "utf8");
  const bytes = hash("sha1", input, "buffer").subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export type OutcomeType = "refund.succeeded" | "refund.failed";

/**
 * Id of the outcome event for one source event:
 * `uuidV5(OUTCOME_ID_NAMESPACE, JSON.stringify([source, sourceEventId, outcomeType]))`, where `source` and
 * `sourceEventId` are the CloudEvents source and id of the return.approved event. The JSON array keeps the
 * parts unambiguous (no separator a source or id could contain). The relay's own source is not part of it:
 * consumers de-duplicate on (source, id), and the relay's source is already the first half of that pair.
 */
export function outcomeEventId(
  source: string,
  sourceEventId: string,
  outcomeType: OutcomeType,
  variant?: string,
): string {
  // A variant (an answer to a second, different event that reused the id) joins the array, so its id
  // can never equal the id of the first event's own outcome; without one the definition is unchanged.
  const parts =
    variant === undefined
      ? [source, sourceEventId, outcomeType]
      : [source, sourceEventId, outcomeType, variant];
  return uuidV5(OUTCOME_ID_NAMESPACE, JSON.stringify(parts));
}

export interface IdempotencyKeyOptions {
  /** Prefix that separates deployments sharing a Dojo account; 1-20 of A-Z a-z 0-9 . _ - (default "rr"). */
  readonly namespace?: string;
}

/**
 * The Dojo idempotency key for a source event (CloudEvents source + id). Two forms, both at most 100 characters
 * from `[A-Za-z0-9._:-]`:
 *
 * - readable, when the id only uses that character set and the key fits:
 *   `<namespace>:<first 12 hex digits of sha256(source)>:<id>`
 * - hashed, otherwise: `<namespace>:h:<sha256 hex of JSON.stringify([source, id])>`
 *
 * The source is part of both, so two producers reusing an id never share a key. The source tag is always 12
 * hex digits and never "h", so the two forms cannot produce the same key for different events.
 */
export function idempotencyKeyFor(
  event: { source: string; id: string },
  options: IdempotencyKeyOptions = {},
): string {
  const namespace = options.namespace ?? DEFAULT_IDEMPOTENCY_NAMESPACE;
  if (!IDEMPOTENCY_NAMESPACE_PATTERN.test(namespace)) {
    throw new TypeError(
      `idempotency key namespace must match ${IDEMPOTENCY_NAMESPACE_PATTERN}: "${namespace}"`,
    );
  }
  if (SAFE_ID.test(event.id)) {
    const readable = `${namespace}:${sha256Hex(event.source).slice(0, 12)}:${event.id}`;
    if (readable.length <= MAX_IDEMPOTENCY_KEY_LENGTH) return readable;
  }
  return `${namespace}:h:${sha256Hex(JSON.stringify([event.source, event.id]))}`;
}
