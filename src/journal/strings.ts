// A table of strings, each kept once and known by a small integer id, with a count of the entries
// that use it: the journal stores ids in typed arrays instead of strings in objects. A string whose
// count falls to zero is forgotten and its id reused, so the table never holds more strings than
// the entries still in the ring use, however many distinct values (paths, digests) pass through.

/** The id of "no value" (undefined); never counted. */
export const NONE = 0;

export class StringTable {
  private readonly ids = new Map<string, number>();
  /** By id; index 0 is NONE. */
  private readonly values: (string | undefined)[] = [undefined];
  private readonly uses: number[] = [0];
  private readonly free: number[] = [];

  /** The id of value, counting one more use of it; NONE for undefined. */
  take(value: string | undefined): number {
    if (value === undefined) return NONE;
    let id = this.ids.get(value);
    if (id === undefined) {
      id = this.free.pop() ?? this.values.length;
      this.values[id] = value;
      this.uses[id] = 0;
      this.ids.set(value, id);
    }
    this.uses[id] = (this.uses[id] as number) + 1;
    return id;
  }

  /** Counts one use of id less; at none left the string is forgotten and the id free again. */
  drop(id: number): void {
    if (id === NONE) return;
    const left = (this.uses[id] as number) - 1;
    this.uses[id] = left;
    if (left > 0) return;
    this.ids.delete(this.values[id] as string);
    this.values[id] = undefined;
    this.free.push(id);
  }

  value(id: number): string | undefined {
    return this.values[id];
  }

  /** Distinct strings held. */
  get size(): number {
    return this.ids.size;
  }
}
