// The request journal over real HTTP: the facts of each request (and never an Authorization value),
// the same facts in the log, filters, clearing, the ring's bound, a client that goes away, the stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from './helpers/registry.js';
import { control, journal, waitForJournal, TIMEOUT_MS } from './helpers/journal.js';
import { formatJson, formatText, type RequestLogEntry } from '../src/server/log.js';
import { Journal } from '../src/journal/journal.js';

const SECRET = 'c2VjcmV0LXRva2VuLXZhbHVl';

test('each request is journaled with its facts, and the Authorization value never is', async (t) => {
  const registry = await startRegistry(t);
  const response = await fetch(`${registry.url}/v2/broken/error/manifests/503`, {
    headers: { Authorization: `Bearer ${SECRET}`, Range: 'bytes=0-9', Accept: 'application/vnd.oci.image.manifest.v1+json', 'User-Agent': 'journal-test/1.0' },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  assert.equal(response.status, 503);
  await response.arrayBuffer();
  const [entry] = await waitForJournal(registry.url, (entries) => entries.length === 1);
  assert.ok(entry);
  assert.equal(entry.seq, 1);
  assert.equal(entry.method, 'GET');
  assert.equal(entry.path, '/v2/broken/error/manifests/503');
  assert.equal(entry.operation, 'manifest.get');
  assert.equal(entry.repository, 'broken/error');
  assert.equal(entry.reference, '503');
  assert.equal(entry.status, 503);
  assert.equal(entry.complete, true);
  assert.equal(entry.scenario, 'error');
  assert.equal(entry.error, 'UNAVAILABLE');
  assert.equal(entry.client, '127.0.0.1');
  assert.equal(entry.userAgent, 'journal-test/1.0');
  assert.equal(entry.range, 'bytes=0-9');
  assert.equal(entry.accept, 'application/vnd.oci.image.manifest.v1+json');
  assert.equal(entry.auth, 'Bearer');
  assert.ok(entry.bytes > 0 && entry.ms >= 0 && !Number.isNaN(Date.parse(entry.time)));
  // The same facts in both log formats, the secret in neither.
  const [logged] = registry.logs;
  assert.ok(logged);
  assert.equal(logged.seq, 1);
  const text = formatText(logged);
  const json = JSON.parse(formatJson(logged));
  assert.match(text, / seq=1 op=manifest\.get from=127\.0\.0\.1 ua=journal-test\/1\.0 range=bytes=0-9 accept=\S+ auth=Bearer$/);
  for (const key of ['seq', 'operation', 'repository', 'reference', 'client', 'userAgent', 'range', 'accept', 'auth', 'complete', 'received']) {
    assert.deepEqual(json[key], (entry as unknown as Record<string, unknown>)[key], key);
  }
  assert.ok(!text.includes(SECRET) && !formatJson(logged).includes(SECRET) && !JSON.stringify(await journal(registry.url)).includes(SECRET));
});

test('bytes received count the request body; control plane requests stay out of the journal', async (t) => {
  const registry = await startRegistry(t);
  const body = Buffer.alloc(3000, 1);
  const response = await fetch(`${registry.url}/v2/broken/prepared/blobs/uploads/?digest=sha256:${'0'.repeat(64)}`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/octet-stream' },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  await response.arrayBuffer();
  await control(registry.url, '/_broken/rules');
  const entries = await waitForJournal(registry.url, (e) => e.length === 1);
  assert.equal(entries[0]?.operation, 'upload.start');
  assert.equal(entries[0]?.received, 3000);
  assert.ok(registry.logs.some((entry) => entry.path === '/_broken/rules' && entry.scenario === 'control'), 'the log still has it');
});

test('filters: since, repository glob, operation or family, status or class, limit; bad ones are 400', async (t) => {
  const registry = await startRegistry(t);
  for (const path of ['/v2/', '/v2/broken/error/manifests/503', '/v2/broken/error/manifests/429', '/v2/broken/error/blobs/sha256:' + 'a'.repeat(64), '/v2/broken/prepared/a/b/tags/list']) {
    await (await fetch(registry.url + path, { signal: AbortSignal.timeout(TIMEOUT_MS) })).arrayBuffer();
  }
  await waitForJournal(registry.url, (e) => e.length === 5);
  const seqs = async (query: string) => (await journal(registry.url, query)).entries.map((e) => e.seq);
  assert.deepEqual(await seqs('?since=3'), [4, 5]);
  assert.deepEqual(await seqs('?repository=broken/*'), [2, 3, 4]);
  assert.deepEqual(await seqs('?repository=broken/**'), [2, 3, 4, 5]);
  assert.deepEqual(await seqs('?operation=manifest'), [2, 3]);
  assert.deepEqual(await seqs('?operation=manifest.get&status=429'), [3]);
  assert.deepEqual(await seqs('?status=2xx'), [1]);
  assert.deepEqual(await seqs('?limit=2'), [1, 2]);
  assert.equal((await journal(registry.url)).last, 5);
  for (const [query, words] of [
    ['?since=-1', /since must be a whole number/],
    ['?limit=0', /limit must be a whole number from 1/],
    ['?status=200x', /status must be/],
    ['?operation=manifests', /not an operation/],
    ['?colour=red', /unknown journal parameter "colour"/],
  ] as const) {
    const { status, body } = await control(registry.url, `/_broken/journal${query}`);
    assert.equal(status, 400, query);
    assert.equal(body.errors[0].code, 'BAD_REQUEST');
    assert.match(body.errors[0].message, words);
  }
});

test('DELETE /_broken/journal empties it; sequence numbers go on', async (t) => {
  const registry = await startRegistry(t);
  await (await fetch(`${registry.url}/v2/`)).arrayBuffer();
  await waitForJournal(registry.url, (e) => e.length === 1);
  const deleted = await control(registry.url, '/_broken/journal', { method: 'DELETE' });
  assert.equal(deleted.status, 204);
  assert.deepEqual((await journal(registry.url)).entries, []);
  await (await fetch(`${registry.url}/v2/`)).arrayBuffer();
  const entries = await waitForJournal(registry.url, (e) => e.length === 1);
  assert.equal(entries[0]?.seq, 2);
  const wrong = await control(registry.url, '/_broken/journal', { method: 'PUT' });
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'GET, DELETE');
});

test('the ring keeps the newest --journal-size entries; 0 keeps none', async (t) => {
  const small = await startRegistry(t, { config: { journalSize: 5 } });
  for (let i = 0; i < 12; i++) await (await fetch(`${small.url}/v2/`)).arrayBuffer();
  const entries = await waitForJournal(small.url, (e) => e.at(-1)?.seq === 12);
  assert.deepEqual(entries.map((e) => e.seq), [8, 9, 10, 11, 12]);
  assert.deepEqual((await journal(small.url, '?since=9')).entries.map((e) => e.seq), [10, 11, 12]);
  assert.deepEqual((await journal(small.url, '?since=2')).entries.map((e) => e.seq), [8, 9, 10, 11, 12]);
  const off = await startRegistry(t, { config: { journalSize: 0 } });
  await (await fetch(`${off.url}/v2/`)).arrayBuffer();
  await waitForJournal(off.url, () => off.logs.some((e) => e.path === '/v2/'));
  const answer = await journal(off.url);
  assert.deepEqual([answer.entries, answer.last, off.logs[0]?.seq], [[], 0, undefined]);
});

test('a client that goes away is journaled as not complete, never 200', async (t) => {
  const registry = await startRegistry(t);
  const controller = new AbortController();
  const pending = fetch(`${registry.url}/v2/broken/timeout/manifests/dur-30s`, { signal: controller.signal }).catch((error: Error) => error);
  // The request is being served once the registry has seen it; the journal records it when it closes.
  await new Promise((resolve) => setTimeout(resolve, 100));
  controller.abort();
  assert.ok((await pending) instanceof Error);
  const [entry] = await waitForJournal(registry.url, (e) => e.length === 1);
  assert.equal(entry?.complete, false);
  assert.equal(entry?.status, 499);
  assert.equal(entry?.sent, 0);
  assert.equal(entry?.scenario, 'timeout');
  assert.ok((entry?.ms ?? Infinity) < 20_000);
});

test('GET /_broken/journal/stream sends the backlog after since, then each new entry, as server-sent events', async (t) => {
  const registry = await startRegistry(t);
  await (await fetch(`${registry.url}/v2/`)).arrayBuffer();
  await (await fetch(`${registry.url}/v2/broken/error/manifests/503`)).arrayBuffer();
  await waitForJournal(registry.url, (e) => e.length === 2);
  const response = await fetch(`${registry.url}/_broken/journal/stream?since=1&status=5xx`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const reader = response.body!.getReader();
  const events: { id: number; data: any }[] = [];
  let text = '';
  const next = async () => {
    while (!text.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended');
      text += Buffer.from(value).toString();
    }
    const end = text.indexOf('\n\n');
    const block = text.slice(0, end);
    text = text.slice(end + 2);
    const id = /^id: (\d+)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (id && data) events.push({ id: Number(id), data: JSON.parse(data) });
  };
  while (events.length < 1) await next();
  assert.deepEqual([events[0]?.id, events[0]?.data.status], [2, 503]);
  await (await fetch(`${registry.url}/v2/`)).arrayBuffer(); // filtered out: 200
  await (await fetch(`${registry.url}/v2/broken/error/manifests/500`)).arrayBuffer();
  while (events.length < 2) await next();
  assert.deepEqual([events[1]?.id, events[1]?.data.status, events[1]?.data.path], [4, 500, '/v2/broken/error/manifests/500']);
  await reader.cancel();
});

test('the ring holds each string once and forgets it when no entry uses it any more', () => {
  const ring = new Journal(10);
  const entry = (i: number): RequestLogEntry => ({
    time: new Date(Date.UTC(2026, 11, 1, 0, 0, 0, i)).toISOString(),
    method: 'GET',
    path: `/v2/library/app/blobs/sha256:${String(i).padStart(64, '0')}`,
    operation: 'blob.get',
    repository: 'library/app',
    reference: `sha256:${String(i).padStart(64, '0')}`,
    status: 200,
    complete: true,
    bytes: i,
    received: 0,
    ms: 1,
    scenario: 'prepared',
    client: '127.0.0.1',
    ...(i % 3 === 0 ? { range: `bytes=${i}-` } : {}),
  });
  for (let i = 0; i < 1000; i++) ring.record(entry(i));
  // Ten entries: their ten paths and ten digests, plus the five strings they share.
  assert.equal(ring.distinctStrings, 25);
  const kept = ring.entries();
  assert.deepEqual(kept.map((e) => e.bytes), [990, 991, 992, 993, 994, 995, 996, 997, 998, 999]);
  assert.deepEqual(kept[0], { ...entry(990), seq: 991 });
  assert.equal(kept[1]?.range, undefined);
  ring.clear();
  assert.equal(ring.distinctStrings, 0);
  assert.deepEqual(ring.entries(), []);
});
