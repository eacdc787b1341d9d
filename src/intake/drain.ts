// Deliveries in the pipeline right now, and the wait for them to finish within a deadline (the drain
// at shutdown). A count, not a set of promises: nothing is kept per delivery.
export class InFlight {
  #count = 0;
  readonly #idle = new Set<() => void>();

  get count(): number {
    return this.#count;
  }

  add(): void {
    this.#count += 1;
  }

  done(): void {
    this.#count -= 1;
    if (this.#count > 0 || this.#idle.size === 0) return;
    for (const wake of this.#idle) wake();
    this.#idle.clear();
  }

  /** Resolves true once nothing is in flight, or false when `timeoutMs` passed first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#idle.delete(wake);
        resolve(false);
      }, timeoutMs);
      this.#idle.add(wake);
    });
  }
}
