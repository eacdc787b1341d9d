// An in-memory SQS for the SQS transport's unit tests: queues with visibility, receive counts, receipt
// handles that change on every receive (a stale one is refused), FIFO group locks, long polls that end
// on a new message or an abort, and a record of every call. Only what the relay sends is implemented.
import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";

export interface FakeMessage {
  readonly id: string;
  readonly body: string;
  readonly attributes: Record<string, string>;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
  receiveCount: number;
  handle: string | undefined;
  visibleAt: number;
  deleted: boolean;
}

export interface FakeCall {
  readonly name: string;
  readonly input: Record<string, unknown>;
}

type EntryFault = { readonly code: string; readonly senderFault?: boolean };

export class FakeSqs {
  readonly queues = new Map<string, FakeMessage[]>();
  readonly calls: FakeCall[] = [];
  /** Per-entry failures to give, by command name, for the next entries of that command. */
  readonly entryFaults = new Map<string, EntryFault[]>();
  #nextId = 0;
  #nextHandle = 0;
  readonly #wakers = new Set<() => void>();
  destroyed = false;

  constructor(...urls: string[]) {
    for (const url of urls) this.queues.set(url, []);
  }

  /** The fake as the client the relay takes. */
  get client(): SQSClient {
    return this as unknown as SQSClient;
  }

  destroy(): void {
    this.destroyed = true;
  }

  put(
    url: string,
    body: string,
    options: { attributes?: Record<string, string>; groupId?: string } = {},
  ): FakeMessage {
    const queue = this.#queue(url);
    const message: FakeMessage = {
      id: `m${++this.#nextId}`,
      body,
      attributes: options.attributes ?? {},
      groupId: options.groupId,
      deduplicationId: undefined,
      receiveCount: 0,
      handle: undefined,
      visibleAt: 0,
      deleted: false,
    };
    queue.push(message);
    this.#wake();
    return message;
  }

  /** Messages not deleted. */
  live(url: string): FakeMessage[] {
    return this.#queue(url).filter((m) => !m.deleted);
  }

  callsOf(name: string): FakeCall[] {
    return this.calls.filter((c) => c.name === name);
  }

  /** Makes every receipt handle of the message stale, as a receive by another consumer would. */
  steal(message: FakeMessage): void {
    message.handle = `stolen-${++this.#nextHandle}`;
    message.receiveCount += 1;
  }

  async send(command: unknown, options: { abortSignal?: AbortSignal } = {}): Promise<unknown> {
    const input = (command as { input: Record<string, unknown> }).input;
    const name = (command as object).constructor.name;
    this.calls.push({ name, input });
    if (command instanceof ReceiveMessageCommand) return this.#receive(command.input, options.abortSignal);
    if (command instanceof DeleteMessageBatchCommand) {
      return this.#perEntry(name, command.input.Entries ?? [], (entry) => {
        const m = this.#byHandle(command.input.QueueUrl ?? "", entry.ReceiptHandle);
        if (m === undefined) return "ReceiptHandleIsInvalid";
        m.deleted = true;
        return undefined;
      });
    }
    if (command instanceof ChangeMessageVisibilityBatchCommand) {
      return this.#perEntry(name, command.input.Entries ?? [], (entry) => {
        const m = this.#byHandle(command.input.QueueUrl ?? "", entry.ReceiptHandle);
        if (m === undefined || m.visibleAt <= Date.now()) return "ReceiptHandleIsInvalid";
        m.visibleAt = Date.now() + (entry.VisibilityTimeout ?? 0) * 1000;
        if (entry.VisibilityTimeout === 0) this.#wake();
        return undefined;
      });
    }
    if (command instanceof SendMessageBatchCommand) {
      return this.#perEntry(name, command.input.Entries ?? [], (entry) => {
        this.#sent(
          command.input.QueueUrl ?? "",
          entry.MessageBody ?? "",
          entry.MessageGroupId,
          entry.MessageDeduplicationId,
        );
        return undefined;
      });
    }
    if (command instanceof SendMessageCommand) {
      const i = command.input;
      this.#sent(i.QueueUrl ?? "", i.MessageBody ?? "", i.MessageGroupId, i.MessageDeduplicationId);
      return { MessageId: `m${this.#nextId}` };
    }
    if (command instanceof GetQueueAttributesCommand) {
      if (!this.queues.has(command.input.QueueUrl ?? "")) {
        throw Object.assign(new Error("The specified queue does not exist."), { name: "QueueDoesNotExist" });
      }
      return { Attributes: { QueueArn: `arn:aws:sqs:us-east-1:000000000000:${command.input.QueueUrl}` } };
    }
    if (command instanceof CreateQueueCommand) {
      const url = `http://fake/000000000000/${command.input.QueueName}`;
      this.queues.set(url, []);
      return { QueueUrl: url };
    }
    throw new Error(`the fake does not implement ${name}`);
  }

  #sent(url: string, body: string, groupId: string | undefined, deduplicationId: string | undefined): void {
    const m = this.put(url, body, groupId === undefined ? {} : { groupId });
    (m as { deduplicationId: string | undefined }).deduplicationId = deduplicationId;
  }

  #queue(url: string): FakeMessage[] {
    const queue = this.queues.get(url);
    if (queue === undefined) throw Object.assign(new Error(`no queue ${url}`), { name: "QueueDoesNotExist" });
    return queue;
  }

  #byHandle(url: string, handle: string | undefined): FakeMessage | undefined {
    return this.#queue(url).find((m) => !m.deleted && m.handle !== undefined && m.handle === handle);
  }

  #perEntry<E extends { Id?: string | undefined }>(
    name: string,
    entries: readonly E[],
    apply: (entry: E) => string | undefined,
  ): {
    Successful: Array<{ Id: string }>;
    Failed: Array<{ Id: string; Code: string; SenderFault: boolean }>;
  } {
    const Successful: Array<{ Id: string }> = [];
    const Failed: Array<{ Id: string; Code: string; SenderFault: boolean; Message: string }> = [];
    const faults = this.entryFaults.get(name);
    for (const entry of entries) {
      const fault = faults?.shift();
      const code = fault?.code ?? apply(entry);
      if (code === undefined) Successful.push({ Id: entry.Id ?? "" });
      else
        Failed.push({
          Id: entry.Id ?? "",
          Code: code,
          SenderFault: fault?.senderFault ?? false,
          Message: code,
        });
    }
    return { Successful, Failed };
  }

  #available(url: string, max: number, fifo: boolean): FakeMessage[] {
    const now = Date.now();
    const queue = this.#queue(url);
    const locked = new Set<string>();
    if (fifo)
      for (const m of queue)
        if (!m.deleted && m.visibleAt > now && m.groupId !== undefined) locked.add(m.groupId);
    const out: FakeMessage[] = [];
    for (const m of queue) {
      if (out.length >= max) break;
      if (m.deleted || m.visibleAt > now) continue;
      if (fifo && m.groupId !== undefined && locked.has(m.groupId)) continue;
      out.push(m);
    }
    return out;
  }

  async #receive(
    input: ReceiveMessageCommand["input"],
    signal: AbortSignal | undefined,
  ): Promise<{ Messages?: Message[] }> {
    const url = input.QueueUrl ?? "";
    const fifo = url.endsWith(".fifo");
    const deadline = Date.now() + (input.WaitTimeSeconds ?? 0) * 1000;
    for (;;) {
      if (signal?.aborted) throw Object.assign(new Error("aborted"), { name: "AbortError" });
      const found = this.#available(url, input.MaxNumberOfMessages ?? 1, fifo);
      if (found.length > 0) {
        const now = Date.now();
        return {
          Messages: found.map((m) => {
            m.receiveCount += 1;
            m.handle = `h${++this.#nextHandle}-${m.id}`;
            m.visibleAt = now + (input.VisibilityTimeout ?? 30) * 1000;
            const attributes: Record<string, string> = {
              ApproximateReceiveCount: String(m.receiveCount),
              SentTimestamp: "0",
            };
            if (m.groupId !== undefined) attributes.MessageGroupId = m.groupId;
            return {
              MessageId: m.id,
              ReceiptHandle: m.handle,
              Body: m.body,
              Attributes: attributes,
              MessageAttributes: Object.fromEntries(
                Object.entries(m.attributes).map(([k, v]) => [k, { DataType: "String", StringValue: v }]),
              ),
            };
          }),
        };
      }
      const left = deadline - Date.now();
      if (left <= 0) return {};
      // Wakes on a new or released message, an abort, or a message becoming visible (checked often).
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#wakers.delete(done);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 20));
        this.#wakers.add(done);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}
