// The request journal: the last N requests in a ring, each with a sequence number, for tests and tools
// to ask what a client did (GET /_broken/journal, the library's journal()). Entries are kept compact:
// the time as a number, and the strings that repeat from request to request (method, repository,
// User-Agent, Accept, scenario, client address) shared through a small intern table, so 100,000 entries
// cost tens of megabytes, not hundreds.
import type { RequestLogEntry } from '../server/log.js';
import { globPattern } from './glob.js';

export const DEFAULT_JOURNAL_SIZE = 100_000;

/** What the journal answers with: a log entry, without the operator-only exception. */
export type JournalEntry = Omit<RequestLogEntry, 'internal'> & { seq: number };

export interface JournalFilter {
  /** Only entries after this sequence number. */
  since?: number;
  /** A glob over the repository name (`*` within a path component, `**` across them). */
  repository?: string;
  /** An operation (manifest.get) or its family (manifest). */
  operation?: string;
  /** A status (503) or a class of them ("5xx"). */
  status?: string | number;
  /** At most this many entries, the oldest first. */
  limit?: number;
}

/**
 * The strings of one entry; its numbers live in the ring's typed arrays, at the same slot, where the
 * garbage collector never has to look at them. Facts most requests lack share one optional object.
 */
interface Stored {
  method: string;
  path: string;
  operation: string | undefined;
  repository: string | undefined;
  reference: string | undefined;
  scenario: string;
  client: string;
  userAgent: string | undefined;
  accept: string | undefined;
  rare: Rare | undefined;
}

interface Rare {
  range?: string;
  auth?: string;
  applied?: string[];
  error?: string;
}

export type JournalListener = (entry: JournalEntry) => void;

const NO_SENT = 0xffff;

export class Journal {
  private readonly ring: Stored[] = [];
  private readonly at: Float64Array;
  private readonly bytes: Float64Array;
  private readonly received: Float64Array;
  private readonly ms: Float32Array;
  private readonly status: Uint16Array;
  /** The status sent before an incomplete response ended; NO_SENT for a complete one. */
  private readonly sent: Uint16Array;
  /** Where the next entry goes once the ring is full. */
  private head = 0;
  private nextSeq = 1;
  private readonly listeners = new Set<JournalListener>();
  private readonly strings = new Interner(4_096);

  constructor(readonly size: number = DEFAULT_JOURNAL_SIZE) {
    const slots = Math.max(0, size);
    this.at = new Float64Array(slots);
    this.bytes = new Float64Array(slots);
    this.received = new Float64Array(slots);
    this.ms = new Float32Array(slots);
    this.status = new Uint16Array(slots);
    this.sent = new Uint16Array(slots);
  }

  get enabled(): boolean {
    return this.size > 0;
  }

  /** The sequence number of the newest entry (0 before the first). */
  get last(): number {
    return this.nextSeq - 1;
  }

  /** Records an entry, giving it (and the log line it came from) its sequence number. */
  record(entry: RequestLogEntry): void {
    if (this.size <= 0) return;
    const seq = this.nextSeq++;
    entry.seq = seq;
    const s = this.strings;
    let rare: Rare | undefined;
    if (entry.range !== undefined || entry.auth !== undefined || entry.applied !== undefined || entry.error !== undefined) {
      rare = {};
      if (entry.range !== undefined) rare.range = entry.range;
      if (entry.auth !== undefined) rare.auth = s.get(entry.auth);
      if (entry.applied !== undefined) rare.applied = entry.applied;
      if (entry.error !== undefined) rare.error = s.get(entry.error);
    }
    const stored: Stored = {
      method: s.get(entry.method),
      path: entry.path,
      operation: entry.operation,
      repository: s.maybe(entry.repository),
      reference: entry.reference,
      scenario: s.get(entry.scenario),
      client: s.get(entry.client),
      userAgent: s.maybe(entry.userAgent),
      accept: s.maybe(entry.accept),
      rare,
    };
    let slot: number;
    if (this.ring.length < this.size) {
      slot = this.ring.length;
      this.ring.push(stored);
    } else {
      slot = this.head;
      this.ring[slot] = stored;
      this.head = (this.head + 1) % this.size;
    }
    this.at[slot] = Date.parse(entry.time);
    this.bytes[slot] = entry.bytes;
    this.received[slot] = entry.received;
    this.ms[slot] = entry.ms;
    this.status[slot] = entry.status;
    this.sent[slot] = entry.sent ?? NO_SENT;
    if (this.listeners.size > 0) {
      const view = this.expand(slot, seq);
      for (const listener of this.listeners) listener(view);
    }
  }

  /** The entries that pass the filter, oldest first. */
  entries(filter: JournalFilter = {}): JournalEntry[] {
    const matches = compileFilter(filter);
    const limit = filter.limit ?? Infinity;
    const out: JournalEntry[] = [];
    const count = this.ring.length;
    const oldest = this.nextSeq - count;
    const since = filter.since ?? 0;
    for (let i = Math.max(0, since + 1 - oldest); i < count && out.length < limit; i++) {
      const slot = (this.head + i) % count;
      const stored = this.ring[slot] as Stored;
      if (matches({ repository: stored.repository, operation: stored.operation, status: this.status[slot] as number })) out.push(this.expand(slot, oldest + i));
    }
    return out;
  }

  /** How many entries the ring holds now. */
  get count(): number {
    return this.ring.length;
  }

  /** Forgets every entry; sequence numbers go on from where they were, so a poller never sees one twice. */
  clear(): void {
    this.ring.length = 0;
    this.head = 0;
  }

  /** Calls listener with each new entry until the returned function is called. */
  subscribe(listener: JournalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private expand(slot: number, seq: number): JournalEntry {
    const stored = this.ring[slot] as Stored;
    const sent = this.sent[slot] as number;
    const entry: JournalEntry = {
      seq,
      time: new Date(this.at[slot] as number).toISOString(),
      method: stored.method,
      path: stored.path,
      status: this.status[slot] as number,
      complete: sent === NO_SENT,
      bytes: this.bytes[slot] as number,
      received: this.received[slot] as number,
      ms: Math.round((this.ms[slot] as number) * 10) / 10,
      scenario: stored.scenario,
      client: stored.client,
    };
    if (stored.operation !== undefined) entry.operation = stored.operation;
    if (stored.repository !== undefined) entry.repository = stored.repository;
    if (stored.reference !== undefined) entry.reference = stored.reference;
    if (sent !== NO_SENT) entry.sent = sent;
    if (stored.userAgent !== undefined) entry.userAgent = stored.userAgent;
    if (stored.accept !== undefined) entry.accept = stored.accept;
    const rare = stored.rare;
    if (rare?.range !== undefined) entry.range = rare.range;
    if (rare?.auth !== undefined) entry.auth = rare.auth;
    if (rare?.applied !== undefined) entry.applied = [...rare.applied];
    if (rare?.error !== undefined) entry.error = rare.error;
    return entry;
  }
}

/** The filter's repository, operation and status conditions as a predicate (since and limit aside). */
export function compileFilter(filter: JournalFilter): (entry: { repository?: string | undefined; operation?: string | undefined; status: number }) => boolean {
  const repository = filter.repository === undefined ? undefined : globPattern(filter.repository);
  const operation = filter.operation;
  const status = filter.status === undefined ? undefined : String(filter.status);
  return (stored) => {
    if (repository === undefined && operation === undefined && status === undefined) return true;
    if (repository && !repository.test(stored.repository ?? '')) return false;
    if (operation !== undefined && !operationMatches(operation, stored.operation)) return false;
    if (status !== undefined && !statusMatches(status, stored.status)) return false;
    return true;
  };
}

/** An operation name matches itself; a family name (manifest, blob, upload) matches its members. */
export function operationMatches(wanted: string, operation: string | undefined): boolean {
  if (operation === undefined) return false;
  return operation === wanted || (operation.startsWith(wanted) && operation[wanted.length] === '.');
}

function statusMatches(wanted: string, status: number): boolean {
  if (/^[1-5]xx$/i.test(wanted)) return Math.floor(status / 100) === Number(wanted[0]);
  return Number(wanted) === status;
}

/** Shares equal strings; forgets them all when full, so a flood of distinct values stays bounded. */
class Interner {
  private readonly table = new Map<string, string>();
  constructor(private readonly max: number) {}

  get(value: string): string {
    const known = this.table.get(value);
    if (known !== undefined) return known;
    if (this.table.size >= this.max) this.table.clear();
    this.table.set(value, value);
    return value;
  }

  maybe(value: string | undefined): string | undefined {
    return value === undefined ? undefined : this.get(value);
  }
}
