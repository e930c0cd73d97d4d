// The request journal: the last N requests in a ring, each with a sequence number, for tests and tools
// to ask what a client did (GET /_broken/journal, the library's journal()). Entries are kept as
// columns: numbers in typed arrays, and every string as the id of an entry in a reference-counted
// string table (strings.ts), so a request leaves no object of its own behind. Strings repeat from
// request to request (method, path, repository, User-Agent...), so the table holds each once, and it
// forgets a string as soon as no entry in the ring uses it. The collector then has almost nothing to
// trace however full the ring is; facts most requests lack (Range, applied rules, the error code) are
// kept in a small map by slot.
import type { RequestLogEntry } from '../server/log.js';
import { globPattern } from './glob.js';
import { StringTable, NONE } from './strings.js';

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

/** Facts most requests lack, kept per slot only for the entries that have them. */
interface Rare {
  range?: string;
  applied?: string[];
  error?: string;
}

/** The string fields of an entry, each stored as a column of string-table ids. */
// auth is here, not among the rare facts: a client that logged in sends Authorization on every request.
const TEXT_FIELDS = ['method', 'path', 'operation', 'repository', 'reference', 'scenario', 'client', 'userAgent', 'accept', 'auth'] as const;
type TextField = (typeof TEXT_FIELDS)[number];

export type JournalListener = (entry: JournalEntry) => void;

const NO_SENT = 0xffff;

export class Journal {
  private readonly at: Float64Array;
  private readonly bytes: Float64Array;
  private readonly received: Float64Array;
  private readonly ms: Float32Array;
  private readonly status: Uint16Array;
  /** The status sent before an incomplete response ended; NO_SENT for a complete one. */
  private readonly sent: Uint16Array;
  private readonly text: Record<TextField, Uint32Array>;
  private readonly rare = new Map<number, Rare>();
  private readonly strings = new StringTable();
  /** Entries held: the slots 0..count-1 are in use. */
  private held = 0;
  /** Where the next entry goes once the ring is full. */
  private head = 0;
  private nextSeq = 1;
  private readonly listeners = new Set<JournalListener>();

  constructor(readonly size: number = DEFAULT_JOURNAL_SIZE) {
    const slots = Math.max(0, size);
    this.at = new Float64Array(slots);
    this.bytes = new Float64Array(slots);
    this.received = new Float64Array(slots);
    this.ms = new Float32Array(slots);
    this.status = new Uint16Array(slots);
    this.sent = new Uint16Array(slots);
    this.text = Object.fromEntries(TEXT_FIELDS.map((field) => [field, new Uint32Array(slots)])) as Record<TextField, Uint32Array>;
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
    let slot: number;
    if (this.held < this.size) {
      slot = this.held++;
    } else {
      slot = this.head;
      this.head = (this.head + 1) % this.size;
      this.release(slot);
    }
    const strings = this.strings;
    const text = this.text;
    for (const field of TEXT_FIELDS) (text[field] as Uint32Array)[slot] = strings.take(entry[field]);
    if (entry.range !== undefined || entry.applied !== undefined || entry.error !== undefined) {
      const rare: Rare = {};
      if (entry.range !== undefined) rare.range = entry.range;
      if (entry.applied !== undefined) rare.applied = [...entry.applied];
      if (entry.error !== undefined) rare.error = entry.error;
      this.rare.set(slot, rare);
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
    const count = this.held;
    const oldest = this.nextSeq - count;
    const since = filter.since ?? 0;
    const { repository, operation } = this.text;
    for (let i = Math.max(0, since + 1 - oldest); i < count && out.length < limit; i++) {
      const slot = (this.head + i) % count;
      const candidate = {
        repository: this.strings.value(repository[slot] as number),
        operation: this.strings.value(operation[slot] as number),
        status: this.status[slot] as number,
      };
      if (matches(candidate)) out.push(this.expand(slot, oldest + i));
    }
    return out;
  }

  /** How many entries the ring holds now. */
  get count(): number {
    return this.held;
  }

  /** How many distinct strings the entries hold now (each kept once, however many entries use it). */
  get distinctStrings(): number {
    return this.strings.size;
  }

  /** Forgets every entry; sequence numbers go on from where they were, so a poller never sees one twice. */
  clear(): void {
    for (let slot = 0; slot < this.held; slot++) this.release(slot);
    this.held = 0;
    this.head = 0;
  }

  /** Calls listener with each new entry until the returned function is called. */
  subscribe(listener: JournalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Lets go of the strings and facts of the entry in slot. */
  private release(slot: number): void {
    for (const field of TEXT_FIELDS) {
      const column = this.text[field];
      this.strings.drop(column[slot] as number);
      column[slot] = NONE;
    }
    this.rare.delete(slot);
  }

  private expand(slot: number, seq: number): JournalEntry {
    const text = (field: TextField) => this.strings.value(this.text[field][slot] as number);
    const sent = this.sent[slot] as number;
    const entry: JournalEntry = {
      seq,
      time: new Date(this.at[slot] as number).toISOString(),
      method: text('method') ?? '',
      path: text('path') ?? '',
      status: this.status[slot] as number,
      complete: sent === NO_SENT,
      bytes: this.bytes[slot] as number,
      received: this.received[slot] as number,
      ms: Math.round((this.ms[slot] as number) * 10) / 10,
      scenario: text('scenario') ?? '',
      client: text('client') ?? '',
    };
    const operation = text('operation');
    if (operation !== undefined) entry.operation = operation;
    const repository = text('repository');
    if (repository !== undefined) entry.repository = repository;
    const reference = text('reference');
    if (reference !== undefined) entry.reference = reference;
    if (sent !== NO_SENT) entry.sent = sent;
    const userAgent = text('userAgent');
    if (userAgent !== undefined) entry.userAgent = userAgent;
    const accept = text('accept');
    if (accept !== undefined) entry.accept = accept;
    const rare = this.rare.get(slot);
    if (rare?.range !== undefined) entry.range = rare.range;
    const auth = text('auth');
    if (auth !== undefined) entry.auth = auth;
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
