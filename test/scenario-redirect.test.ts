// broken/redirect/<rules>/<repository> over real HTTP: blob GET/HEAD redirect to the storage origin
// (a second loopback listener), which honours Range and has object storage's quirks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import { expectError, ociImage, pushImage, OCI_MANIFEST } from './helpers/oci-http.js';
import { manualClock } from './helpers/proxy.js';
import { callAs } from './helpers/auth.js';

const INNER = 'broken/prepared/redirect/app';
const image = ociImage({ seed: 61, layerSize: 10_000 });
const layer = image.layers[0]!;
const named = (rules: string) => `broken/redirect/${rules}/${INNER}`;
const blobPath = (rules: string) => `/v2/${named(rules)}/blobs/${layer.digest}`;

async function withImage(t: Parameters<typeof startRegistry>[0], options: Parameters<typeof startRegistry>[1] = {}): Promise<TestRegistry> {
  const registry = await startRegistry(t, options);
  await pushImage(registry, INNER, 'v1', image);
  return registry;
}

async function locationOf(registry: TestRegistry, rules: string, method = 'GET'): Promise<string> {
  const response = await callAs(registry, undefined, blobPath(rules), { method });
  assert.equal(response.status, 307, `${rules}: the registry redirects`);
  await response.arrayBuffer();
  return response.headers.get('location') ?? '';
}

const at = (url: string, init: RequestInit = {}) => fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(5000) });

test('broken/redirect/default: blob GET and HEAD redirect to another origin that serves the bytes, Range too; manifests pass through', async (t) => {
  const registry = await withImage(t);
  const location = await locationOf(registry, 'default');
  const url = new URL(location);
  assert.equal(url.hostname, '127.0.0.1');
  assert.notEqual(url.port, String(registry.port), 'another origin: another port');
  assert.match(url.search, /X-Amz-Signature=[0-9a-f]{64}/);
  const whole = await at(location);
  assert.equal(whole.status, 200);
  assert.deepEqual(Buffer.from(await whole.arrayBuffer()), layer.bytes);
  const part = await at(location, { headers: { Range: 'bytes=100-199' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 100-199/${layer.size}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), layer.bytes.subarray(100, 200));
  const head = await at(await locationOf(registry, 'default', 'HEAD'), { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(layer.size));
  assert.equal((await callAs(registry, undefined, `/v2/${named('default')}/manifests/v1`, { headers: { Accept: OCI_MANIFEST } })).status, 200);
  await expectError(await callAs(registry, undefined, `/v2/${named('default')}/blobs/sha256:${'0'.repeat(64)}`), 404, 'BLOB_UNKNOWN');
  const tampered = location.replace(/X-Amz-Signature=[0-9a-f]/, 'X-Amz-Signature=z');
  assert.equal((await at(tampered)).status, 403, 'a changed signature is refused');
  assert.equal((await callAs(registry, undefined, blobPath('code-302'))).status, 302);
  assert.equal((await callAs(registry, undefined, blobPath('code-308'))).status, 308);
  await expectError(await callAs(registry, undefined, blobPath('code-200')), 400, 'NAME_INVALID');
  const unknown = await expectError(await callAs(registry, undefined, blobPath('bogus')), 400, 'NAME_INVALID');
  assert.match(unknown.message, /unknown rule "bogus".*known: default, code-<301\|302\|303\|307\|308>/);
  await registry.stop();
  await assert.rejects(at(location), 'the origin stops with the registry');
});

test('broken/redirect origin quirks: auth-reject, auth-require, head-403, once, hops-N, loop, host-other', async (t) => {
  const registry = await withImage(t);
  const rejecting = await locationOf(registry, 'auth-reject');
  const rejected = await at(rejecting, { headers: { Authorization: 'Bearer abc' } });
  assert.equal(rejected.status, 400);
  assert.match(await rejected.text(), /<Code>InvalidArgument<\/Code><Message>Only one auth mechanism allowed/);
  assert.equal((await at(rejecting)).status, 200, 'without Authorization it serves');
  const requiring = await locationOf(registry, 'auth-require');
  assert.equal((await at(requiring)).status, 403);
  assert.equal((await at(requiring, { headers: { Authorization: 'Bearer abc' } })).status, 200);
  const head = await locationOf(registry, 'head-403', 'HEAD');
  assert.equal((await at(head, { method: 'HEAD' })).status, 403);
  assert.equal((await at(head)).status, 200, 'GET works on the same URL');
  const once = await locationOf(registry, 'once');
  assert.equal((await at(once)).status, 200);
  const again = await at(once);
  assert.equal(again.status, 403);
  assert.match(await again.text(), /already used/);
  assert.equal((await at(await locationOf(registry, 'once'))).status, 200, 'a fresh URL from the registry works');

  let hop = await locationOf(registry, 'hops-2');
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const response = await at(hop);
    statuses.push(response.status);
    if (response.status !== 302) break;
    hop = new URL(response.headers.get('location') ?? '', hop).href;
  }
  assert.deepEqual(statuses, [302, 302, 200]);
  const loop = await locationOf(registry, 'loop');
  const looped = await at(loop);
  assert.equal(looped.status, 302);
  assert.equal(new URL(looped.headers.get('location') ?? '', loop).href, loop, 'redirects to itself');
  const other = new URL(await locationOf(registry, 'host-other'));
  assert.equal(other.hostname, 'localhost', 'the other loopback name');
});

test('broken/redirect/expire-<duration>: the URL stops working, the registry hands out a fresh one', async (t) => {
  const clock = manualClock(Date.now());
  const registry = await withImage(t, { clock });
  const location = await locationOf(registry, 'expire-5s');
  assert.equal((await at(location)).status, 200);
  clock.advance(5_000);
  const expired = await at(location);
  assert.equal(expired.status, 403);
  assert.match(await expired.text(), /Request has expired/);
  assert.equal((await at(await locationOf(registry, 'expire-5s'))).status, 200);
});
