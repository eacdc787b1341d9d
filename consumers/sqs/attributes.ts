// SQS message attributes in and out. Inbound, String and Number attributes become the delivery's
// headers (binary-mode CloudEvents carry their ce_* attributes there); Binary ones are dropped, as the
// decoder reads only text. Outbound, headers become String attributes, of which SQS takes ten at most.
import type { MessageAttributeValue } from "@aws-sdk/client-sqs";

/** SQS refuses a message with more message attributes than this. */
export const MAX_MESSAGE_ATTRIBUTES = 10;

/** Shared by every message that has no text attributes: nothing is allocated for them. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

export function headersOf(
  attributes: Record<string, MessageAttributeValue> | undefined,
): Readonly<Record<string, string>> {
  if (attributes === undefined) return NO_HEADERS;
  let headers: Record<string, string> | undefined;
  for (const name in attributes) {
    const attribute = attributes[name];
    const value = attribute?.StringValue;
    if (value === undefined || attribute?.DataType?.startsWith("Binary") === true) continue;
    headers ??= {};
    headers[name] = value;
  }
  return headers ?? NO_HEADERS;
}

/**
 * Headers as String message attributes. Empty values are left out (SQS refuses them); more than ten
 * attributes is a bug of the caller, not something to trim silently.
 */
export function attributesOf(
  headers: Readonly<Record<string, string>>,
): Record<string, MessageAttributeValue> {
  const attributes: Record<string, MessageAttributeValue> = {};
  let count = 0;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || value === "") continue;
    count += 1;
    if (count > MAX_MESSAGE_ATTRIBUTES) {
      throw new RangeError(
        `an SQS message takes at most ${MAX_MESSAGE_ATTRIBUTES} message attributes; got more (${Object.keys(headers).join(", ")})`,
      );
    }
    attributes[name] = { DataType: "String", StringValue: value };
  }
  return attributes;
}
