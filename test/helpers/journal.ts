// Talking to the control plane in tests: JSON requests with a timeout, and a bounded poll of the
// journal (entries are recorded when a response closes, which may be just after the client saw it).
import assert from 'node:assert/strict';
import type { JournalEntry } from '../../src/journal/journal.js';

export const TIMEOUT_MS = 10_000;

export interface JournalAnswer {
  last: number;
  size: number;
  entries: JournalEntry[];
}

export async function control(url: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url + path, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

export async function journal(url: string, query = ''): Promise<JournalAnswer> {
  const { status, body } = await control(url, `/_broken/journal${query}`);
  assert.equal(status, 200, JSON.stringify(body));
  return body as JournalAnswer;
}

/** Polls the journal (every 20 ms, for at most 5 s) until done(entries) holds; returns the entries. */
export async function waitForJournal(url: string, done: (entries: JournalEntry[]) => boolean, query = ''): Promise<JournalEntry[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const { entries } = await journal(url, query);
    if (done(entries)) return entries;
    if (Date.now() > deadline) assert.fail(`the journal did not get there: ${JSON.stringify(entries).slice(0, 2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function postRule(url: string, rule: unknown): Promise<{ status: number; body: any }> {
  return control(url, '/_broken/rules', { method: 'POST', body: typeof rule === 'string' ? rule : JSON.stringify(rule), headers: { 'Content-Type': 'application/json' } });
}
