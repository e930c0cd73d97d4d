// broken/redirect's storage origin over real HTTP(S): it speaks the registry's scheme (https with the
// registry's certificate, checked against the test CA) unless scheme-http sends an https registry
// to plain http; and broken/fault outside the redirect shapes the bytes the origin sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { Agent, request } from 'undici';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import { ociImage, pushImage } from './helpers/oci-http.js';
import { makeTestCa } from './helpers/auth.js';

const INNER = 'broken/prepared/origin/app';
const image = ociImage({ seed: 67, layerSize: 200_000 });
const layer = image.layers[0]!;
const blobPath = (name: string) => `/v2/${name}/blobs/${layer.digest}`;
const redirected = (rules: string) => `broken/redirect/${rules}/${INNER}`;
const faulted = (faults: string, rules = 'default') => `broken/fault/${faults}/${redirected(rules)}`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: Buffer;
  /** The error that ended the body early (a cut connection), if any. */
  error?: NodeJS.ErrnoException;
}

/** One request, its body read until it ends or breaks: what a client that counts bytes sees. */
async function get(url: string, options: { dispatcher?: Agent; headers?: Record<string, string> } = {}): Promise<Answer> {
  const response = await request(url, { dispatcher: options.dispatcher, headers: options.headers, headersTimeout: 5_000, bodyTimeout: 5_000, maxRedirections: 0 } as Parameters<typeof request>[1]);
  const chunks: Buffer[] = [];
  let error: NodeJS.ErrnoException | undefined;
  try {
    for await (const chunk of response.body) chunks.push(chunk as Buffer);
  } catch (caught) {
    error = caught as NodeJS.ErrnoException;
  }
  return { status: response.statusCode, headers: response.headers, bytes: Buffer.concat(chunks), error };
}

async function location(registry: TestRegistry, name: string, dispatcher?: Agent): Promise<URL> {
  const answer = await get(`${registry.url}${blobPath(name)}`, { dispatcher });
  assert.equal(answer.status, 307, `${name}: the registry redirects (got ${answer.status} ${answer.bytes.toString().slice(0, 200)})`);
  return new URL(String(answer.headers.location));
}

test('broken/redirect under TLS: the origin speaks https with the registry certificate; scheme-http redirects https to plain http', async (t) => {
  const ca = await makeTestCa(t);
  const plain = await startRegistry(t);
  await pushImage(plain, INNER, 'v1', image);
  const tls = await startRegistry(t, { storeDir: plain.storeDir, tls: { cert: ca.cert, key: ca.key } });
  const trusting = new Agent({ connect: { ca: await fs.readFile(ca.caFile) } });
  t.after(() => trusting.close());

  const secure = await location(tls, redirected('default'), trusting);
  assert.equal(secure.protocol, 'https:', 'the origin speaks the registry scheme');
  assert.notEqual(secure.port, String(tls.port));
  const whole = await get(secure.href, { dispatcher: trusting });
  assert.equal(whole.status, 200);
  assert.deepEqual(whole.bytes, layer.bytes, 'served over TLS verified against the test CA');
  const part = await get(secure.href, { dispatcher: trusting, headers: { Range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.deepEqual(part.bytes, layer.bytes.subarray(10, 20));
  await assert.rejects(get(secure.href), /self.signed|unable to verify|certificate/i, 'without the CA the origin certificate is refused: real TLS');

  const downgraded = await location(tls, redirected('scheme-http'), trusting);
  assert.equal(downgraded.protocol, 'http:', 'scheme-http: https registry, http origin');
  assert.notEqual(downgraded.port, secure.port, 'another listener');
  const overHttp = await get(downgraded.href);
  assert.equal(overHttp.status, 200);
  assert.deepEqual(overHttp.bytes, layer.bytes);
  await assert.rejects(get(`https://${downgraded.host}${downgraded.pathname}${downgraded.search}`, { dispatcher: trusting }), 'the http origin speaks no TLS');

  // Under a plain-HTTP registry the origin is http, with or without scheme-http.
  assert.equal((await location(plain, redirected('default'))).protocol, 'http:');
  assert.equal((await location(plain, redirected('scheme-http'))).protocol, 'http:');
});

test('broken/fault outside broken/redirect: close, reset and corrupt shape the bytes the origin sends; times-1 passes the next URL', async (t) => {
  const registry = await startRegistry(t);
  await pushImage(registry, INNER, 'v1', image);
  const half = Math.floor(layer.size / 2);

  const closed = await get((await location(registry, faulted('on-blob_close-50pct'))).href);
  assert.equal(closed.status, 200);
  assert.equal(closed.headers['content-length'], String(layer.size), 'the declared length stays');
  assert.equal(closed.bytes.length, half, 'the origin closes after half the bytes');
  assert.ok(closed.error, 'the body ends early');
  assert.deepEqual(closed.bytes, layer.bytes.subarray(0, half));

  const reset = await get((await location(registry, faulted('on-blob_reset-50pct'))).href);
  assert.ok(reset.bytes.length <= half, 'no byte past the reset offset');
  assert.match(String(reset.error?.code ?? reset.error?.message), /ECONNRESET|UND_ERR_SOCKET|other side closed/);

  const corrupt = await get((await location(registry, faulted('on-blob_corrupt-1'))).href);
  assert.equal(corrupt.status, 200);
  assert.equal(corrupt.bytes.length, layer.size);
  assert.equal([...corrupt.bytes].filter((byte, i) => byte !== layer.bytes[i]).length, 1, 'one byte changed');

  // times-1: the first registry request's URL carries the fault, the next request's URL is clean.
  const once = faulted('on-blob_close-50pct_times-1');
  const first = await location(registry, once);
  const second = await location(registry, once);
  assert.equal((await get(first.href)).bytes.length, half);
  const passed = await get(second.href);
  assert.equal(passed.error, undefined);
  assert.deepEqual(passed.bytes, layer.bytes, 'times-1: the next URL serves the whole blob');
  assert.equal((await get(first.href)).bytes.length, half, 'a URL keeps the decision of the request that issued it');

  // A Range on the origin: the cut is at 50% of the range answer, as on the registry.
  const ranged = await get((await location(registry, faulted('on-blob_close-50pct'))).href, { headers: { Range: 'bytes=1000-1999' } });
  assert.equal(ranged.status, 206);
  assert.deepEqual(ranged.bytes, layer.bytes.subarray(1000, 1500));
  // range-ignore answers the origin's Range request with the whole blob.
  const ignored = await get((await location(registry, faulted('on-blob_range-ignore'))).href, { headers: { Range: 'bytes=1000-1999' } });
  assert.equal(ignored.status, 200);
  assert.deepEqual(ignored.bytes, layer.bytes);
  // Header lies apply to the origin's answer too.
  const typed = await get((await location(registry, faulted('on-blob_type-html'))).href);
  assert.match(String(typed.headers['content-type']), /text\/html/);

  // A status key answers the registry's request: no redirect, nothing from the origin.
  const refused = await get(`${registry.url}${blobPath(faulted('on-blob_status-503_times-1'))}`);
  assert.equal(refused.status, 503);
  assert.equal((await get((await location(registry, faulted('on-blob_status-503_times-1'))).href)).bytes.length, layer.size);
  // Without a fault the origin still serves every byte.
  assert.deepEqual((await get((await location(registry, redirected('default'))).href)).bytes, layer.bytes);
});
