// Counts events per key (requests made with a token), forgetting the oldest keys beyond a limit so a
// long run cannot grow it without bound. A small stand-in for the `times`/`after` counters of
// broken/fault; the two can become one.
export class Counter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly limit = 10_000) {}

  /** Adds one to key's count and returns the new count. */
  hit(key: string): number {
    const count = (this.counts.get(key) ?? 0) + 1;
    if (count === 1 && this.counts.size >= this.limit) {
      const oldest = this.counts.keys().next().value;
      if (oldest !== undefined) this.counts.delete(oldest);
    }
    this.counts.set(key, count);
    return count;
  }
}
