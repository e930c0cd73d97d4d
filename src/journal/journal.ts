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

/** The compact form one entry is stored in. */
interface Stored {
  seq: number;
  at: number;
  method: string;
  path: string;
  operation: string | undefined;
  repository: string | undefined;
  reference: string | undefined;
  status: number;
  complete: boolean;
  sent: number | undefined;
  bytes: number;
  received: number;
  ms: number;
  scenario: string;
  client: string;
  userAgent: string | undefined;
  range: string | undefined;
  accept: string | undefined;
  auth: string | undefined;
  applied: string | undefined;
  error: string | undefined;
}

export type JournalListener = (entry: JournalEntry) => void;

export class Journal {
  private readonly ring: Stored[] = [];
  /** Where the next entry goes once the ring is full. */
  private head = 0;
  private nextSeq = 1;
  private readonly listeners = new Set<JournalListener>();
  private readonly strings = new Interner(4_096);

  constructor(readonly size: number = DEFAULT_JOURNAL_SIZE) {}

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
    const stored: Stored = {
      seq,
      at: Date.parse(entry.time),
      method: s.get(entry.method),
      path: entry.path,
      operation: entry.operation,
      repository: s.maybe(entry.repository),
      reference: s.maybe(entry.reference),
      status: entry.status,
      complete: entry.complete,
      sent: entry.sent,
      bytes: entry.bytes,
      received: entry.received,
      ms: Math.round(entry.ms * 10) / 10,
      scenario: s.get(entry.scenario),
      client: s.get(entry.client),
      userAgent: s.maybe(entry.userAgent),
      range: entry.range,
      accept: s.maybe(entry.accept),
      auth: s.maybe(entry.auth),
      applied: entry.applied ? s.get(entry.applied.join('\n')) : undefined,
      error: entry.error,
    };
    if (this.ring.length < this.size) this.ring.push(stored);
    else {
      this.ring[this.head] = stored;
      this.head = (this.head + 1) % this.size;
    }
    if (this.listeners.size > 0) {
      const view = expand(stored);
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
      const stored = this.ring[(this.head + i) % count] as Stored;
      if (matches(stored)) out.push(expand(stored));
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
}

function expand(stored: Stored): JournalEntry {
  const entry: JournalEntry = {
    seq: stored.seq,
    time: new Date(stored.at).toISOString(),
    method: stored.method,
    path: stored.path,
    status: stored.status,
    complete: stored.complete,
    bytes: stored.bytes,
    received: stored.received,
    ms: stored.ms,
    scenario: stored.scenario,
    client: stored.client,
  };
  if (stored.operation !== undefined) entry.operation = stored.operation;
  if (stored.repository !== undefined) entry.repository = stored.repository;
  if (stored.reference !== undefined) entry.reference = stored.reference;
  if (stored.sent !== undefined) entry.sent = stored.sent;
  if (stored.userAgent !== undefined) entry.userAgent = stored.userAgent;
  if (stored.range !== undefined) entry.range = stored.range;
  if (stored.accept !== undefined) entry.accept = stored.accept;
  if (stored.auth !== undefined) entry.auth = stored.auth;
  if (stored.applied !== undefined) entry.applied = stored.applied.split('\n');
  if (stored.error !== undefined) entry.error = stored.error;
  return entry;
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
