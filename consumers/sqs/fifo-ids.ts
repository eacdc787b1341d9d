// Ids SQS FIFO queues require on every message sent: MessageGroupId (the order is kept within a
// group) and MessageDeduplicationId (a repeat within five minutes is dropped). Both take 1 to 128
// printable ASCII characters; anything else is hashed to fit.
import { hash } from "node:crypto";

const FIFO_ID = /^[\x21-\x7e]{1,128}$/;

export function fifoId(value: string): string {
  return FIFO_ID.test(value) ? value : hash("sha256", value, "hex");
}

export function isFifoQueue(url: string): boolean {
  return url.endsWith(".fifo");
}
