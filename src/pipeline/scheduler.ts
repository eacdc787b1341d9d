// Runs tasks with per-key order and a global concurrency limit. Tasks that share a key (a payment
// intent id) run one at a time in submission order, so two partial refunds of one payment never race
// for the refundable amount; tasks with different keys run in parallel up to `limit`. A task waiting
// behind its key does not hold a slot.

export class KeyedScheduler {
  readonly #limit: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];
  /** The last task queued for each key; the next task of that key starts after it settles. */
  readonly #tails = new Map<string, Promise<unknown>>();

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError("limit must be a positive integer");
    this.#limit = limit;
  }

  /** Tasks running now (holding a slot). */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot (their key is free). */
  get queued(): number {
    return this.#waiting.length;
  }

  /** Runs `task` after every earlier task with the same key; `key` undefined means no ordering. */
  run<T>(key: string | undefined, task: () => Promise<T>): Promise<T> {
    if (key === undefined) return this.#withSlot(task);
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(
      () => this.#withSlot(task),
      () => this.#withSlot(task),
    );
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  async #withSlot<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running += 1;
    }
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      // The slot passes straight to the next waiter; the running count stays the same.
      if (next !== undefined) next();
      else this.#running -= 1;
    }
  }
}
