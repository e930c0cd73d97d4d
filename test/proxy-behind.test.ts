// The proxy when the store's disk falls behind the upstream: clients get every byte (checked against
// the digest as they arrive) without waiting for the writes, which go on from a second request (a
// Range from where they stopped) and are checked before anything counts as stored. Every file write
// of this process is held at a gate for these tests, as by a disk that stalls.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { eventually, randomContent, type Content } from './helpers/oci-http.js';
import { holdWrites, pull, skopeo, startFront, startProxy, type Front } from './helpers/proxy.js';
import { makeTempDir } from './helpers/registry.js';
import { parseDigest } from '../src/oci/digest.js';

// More than the writes may fall behind (12 MiB) plus what readers keep in memory (6 MiB).
const SIZE = 40 << 20;

/** An upstream serving blob for every GET (the Range ones as 206 unless told to ignore them), noting each Range. */
async function rangeFront(t: TestContext, blob: Content, options: { ignoreRange?: boolean; rest?: Buffer } = {}) {
  const ranges: (string | undefined)[] = [];
  const front = await startFront(t, (req: http.IncomingMessage, res: http.ServerResponse) => {
    ranges.push(req.headers.range);
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (!match || options.ignoreRange) {
      res.writeHead(200, { 'Content-Length': blob.size }).end(blob.bytes);
      return;
    }
    const from = Number(match[1]);
    if (from >= blob.size) {
      // As distribution answers a Range past the end.
      res.writeHead(416, { 'Content-Range': `bytes */${blob.size}` }).end();
      return;
    }
    const bytes = (options.rest ?? blob.bytes).subarray(from);
    res.writeHead(206, { 'Content-Length': bytes.length, 'Content-Range': `bytes ${from}-${blob.size - 1}/${blob.size}` }).end(bytes);
  });
  return { front, ranges };
}

const proxyFor = (t: TestContext, front: Front) => startProxy(t, { flags: { upstream: front.host, upstreamInsecure: [front.host] } });

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function storedBytes(proxy: Awaited<ReturnType<typeof proxyFor>>, name: string, blob: Content): Promise<Buffer | undefined> {
  const digest = parseDigest(blob.digest)!;
  if (!(await proxy.deps.store.repositoryBlob(name, digest))) return undefined;
  return fs.readFile((await proxy.deps.store.blob(digest))?.path ?? '');
}

test('clients get every byte while the store cannot write, and the store catches up from a Range request', async (t) => {
  const blob = randomContent(SIZE, 31);
  const { front, ranges } = await rangeFront(t, blob);
  const proxy = await proxyFor(t, front);
  const writes = await holdWrites(t, proxy.storeDir);
  const url = `/v2/behind/blobs/${blob.digest}`;
  // Concurrent pulls share the one fetch of the body.
  const pulls = await Promise.all([0, 1, 2].map(() => pull(proxy, url)));
  for (const { response, body } of pulls) {
    assert.equal(response.status, 200);
    assert.equal(body.length, blob.size);
    assert.ok(body.equals(blob.bytes), 'every byte, while no write to the store has completed');
  }
  assert.equal(await storedBytes(proxy, 'behind', blob), undefined, 'nothing counts as stored before the file is written');
  writes.open();
  assert.ok(await eventually(async () => Boolean(await storedBytes(proxy, 'behind', blob)), 500));
  assert.equal(sha256((await storedBytes(proxy, 'behind', blob))!), blob.digest);
  assert.equal(ranges.length, 2, 'the body once, then the rest for the store');
  assert.equal(ranges[0], undefined);
  const from = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1]);
  assert.ok(from > 0 && from < SIZE, `the store asked only for what it had not written: ${ranges[1]}`);
  assert.deepEqual(await fs.readdir(path.join(proxy.storeDir, 'tmp')), []);
  assert.ok((await pull(proxy, url)).body.equals(blob.bytes));
  assert.equal(ranges.length, 2, 'later pulls come from the store');
});

/** GETs url reading slowly (a chunk, then a pause): the client sets the pace. */
function slowPull(url: string, pauseMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { timeout: 20_000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        response.pause();
        setTimeout(() => response.resume(), pauseMs);
      });
      response.on('end', () => resolve(Buffer.concat(chunks)));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

test('a client slower than the upstream: the writes still let go of the body, and its last byte does not wait for them', async (t) => {
  const blob = randomContent(SIZE, 37);
  const { front, ranges } = await rangeFront(t, blob);
  const proxy = await proxyFor(t, front);
  const writes = await holdWrites(t, proxy.storeDir);
  assert.ok((await slowPull(`${proxy.url}/v2/slow/blobs/${blob.digest}`, 1)).equals(blob.bytes), 'every byte, while no write has completed');
  writes.open();
  assert.ok(await eventually(async () => Boolean(await storedBytes(proxy, 'slow', blob)), 500));
  assert.equal(sha256((await storedBytes(proxy, 'slow', blob))!), blob.digest);
  assert.equal(ranges.length, 2);
  const from = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1]);
  assert.ok(from > 0 && from < SIZE, `the writes let go before the body's end: ${ranges[1]}`);
});

test('an upstream that ignores the Range: the store skips to where its writes stopped', async (t) => {
  const blob = randomContent(SIZE, 32);
  const { front, ranges } = await rangeFront(t, blob, { ignoreRange: true });
  const proxy = await proxyFor(t, front);
  const writes = await holdWrites(t, proxy.storeDir);
  assert.ok((await pull(proxy, `/v2/ignored/blobs/${blob.digest}`)).body.equals(blob.bytes));
  writes.open();
  assert.ok(await eventually(async () => Boolean(await storedBytes(proxy, 'ignored', blob)), 500));
  assert.equal(sha256((await storedBytes(proxy, 'ignored', blob))!), blob.digest);
  assert.equal(ranges.length, 2);
});

test('a second request that sends other bytes: the client had the right ones, and nothing is stored', async (t) => {
  const blob = randomContent(SIZE, 33);
  const rest = Buffer.from(blob.bytes);
  rest[SIZE - 100] = (rest[SIZE - 100] ?? 0) ^ 0xff;
  const { front, ranges } = await rangeFront(t, blob, { rest });
  const proxy = await proxyFor(t, front);
  const writes = await holdWrites(t, proxy.storeDir);
  assert.ok((await pull(proxy, `/v2/rest/blobs/${blob.digest}`)).body.equals(blob.bytes));
  writes.open();
  assert.ok(await eventually(async () => ranges.length === 2 && (await fs.readdir(path.join(proxy.storeDir, 'tmp'))).length === 0, 500));
  assert.equal(await proxy.deps.store.blob(parseDigest(blob.digest)!), undefined);
  // The client had every byte: only the server's warning tells that the blob was not stored.
  assert.ok(await eventually(async () => proxy.warnings.length > 0));
  assert.equal(proxy.warnings.length, 1);
  assert.match(proxy.warnings[0] ?? '', new RegExp(`^proxy: rest@${blob.digest} reached its clients but was not stored: upstream .* does not match`));
});

test('writes that let go at the body\'s last chunk were given every byte: stored without a second request', async (t) => {
  // The writes may fall 12 MiB behind: held from the start, they let go once the body is past it.
  // The body's last KiB comes once the client has read the rest, so that is where they let go.
  const blob = randomContent((12 << 20) + 1024, 36);
  const ranges: (string | undefined)[] = [];
  const front = await startFront(t, (req, res) => {
    ranges.push(req.headers.range);
    if (req.headers.range) {
      res.writeHead(416, { 'Content-Range': `bytes */${blob.size}` }).end();
      return;
    }
    res.writeHead(200, { 'Content-Length': blob.size });
    res.write(blob.bytes.subarray(0, 12 << 20));
    setTimeout(() => res.end(blob.bytes.subarray(12 << 20)), 300);
  });
  const proxy = await proxyFor(t, front);
  const writes = await holdWrites(t, proxy.storeDir);
  assert.ok((await pull(proxy, `/v2/last/blobs/${blob.digest}`)).body.equals(blob.bytes));
  writes.open();
  assert.ok(await eventually(async () => Boolean(await storedBytes(proxy, 'last', blob)), 500));
  assert.equal(sha256((await storedBytes(proxy, 'last', blob))!), blob.digest);
  assert.deepEqual(ranges, [undefined], 'nothing was left to ask for');
  assert.deepEqual(proxy.warnings, []);
});

test('a corrupt body while the store cannot write: the client gets what was sent, nothing is stored, and the server says so', async (t) => {
  const blob = randomContent(SIZE, 34);
  const corrupt = Buffer.from(blob.bytes);
  corrupt[SIZE - 5] = (corrupt[SIZE - 5] ?? 0) ^ 0xff;
  const { front, ranges } = await rangeFront(t, { ...blob, bytes: corrupt });
  const proxy = await proxyFor(t, front);
  const writes = await holdWrites(t, proxy.storeDir);
  // Once the writes let go, the rest of the body is not hashed on its way to the client (as from
  // distribution's cache; clients check digests): what is stored is, from the second request.
  const { response, body } = await pull(proxy, `/v2/bad/blobs/${blob.digest}`);
  assert.equal(response.status, 200);
  assert.ok(body.equals(corrupt));
  writes.open();
  assert.ok(await eventually(async () => ranges.length === 2 && (await fs.readdir(path.join(proxy.storeDir, 'tmp'))).length === 0, 500));
  assert.equal(await proxy.deps.store.blob(parseDigest(blob.digest)!), undefined);
  assert.ok(await eventually(async () => proxy.warnings.length > 0));
  assert.match(proxy.warnings[0] ?? '', /reached its clients but was not stored: upstream .* sent a blob that does not match/);
});

test('skopeo refuses a corrupt layer the proxy passed on while its store was behind, and nothing of it is stored', async (t) => {
  // An upstream of one image whose layer is served with a byte flipped; the proxy's writes are held
  // for the layer, so they let go and the rest of its body reaches skopeo unchecked.
  const layer = randomContent(SIZE, 40);
  const corrupt = Buffer.from(layer.bytes);
  corrupt[SIZE - 7] = (corrupt[SIZE - 7] ?? 0) ^ 0xff;
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }));
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layer.digest, size: layer.size }],
    }),
  );
  const front = await startFront(t, (req, res) => {
    const url = req.url ?? '';
    const send = (status: number, headers: http.OutgoingHttpHeaders, body: Buffer) => res.writeHead(status, { 'Content-Length': body.length, ...headers }).end(req.method === 'HEAD' ? undefined : body);
    if (url === '/v2/') return send(200, { 'Content-Type': 'application/json' }, Buffer.from('{}'));
    if (url === '/v2/shop/app/manifests/1' || url === `/v2/shop/app/manifests/${sha256(manifest)}`) {
      return send(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Docker-Content-Digest': sha256(manifest) }, manifest);
    }
    if (url === `/v2/shop/app/blobs/${configDigest}`) return send(200, {}, config);
    if (url === `/v2/shop/app/blobs/${layer.digest}`) {
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      if (from === 0) return send(200, {}, corrupt);
      return send(206, { 'Content-Range': `bytes ${from}-${SIZE - 1}/${SIZE}` }, corrupt.subarray(from));
    }
    send(404, {}, Buffer.alloc(0));
  });
  const proxy = await proxyFor(t, front);
  // The manifest and the config in the cache first, with the writes free: held, a small blob's last
  // byte waits for them.
  assert.equal((await pull(proxy, '/v2/shop/app/manifests/1', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).response.status, 200);
  assert.ok((await pull(proxy, `/v2/shop/app/blobs/${configDigest}`)).body.equals(config));
  assert.ok(await eventually(async () => Boolean(await proxy.deps.store.repositoryBlob('shop/app', parseDigest(configDigest)!))));
  const writes = await holdWrites(t, proxy.storeDir);
  const dir = await makeTempDir(t, 'broken-reg-skopeo-');
  await assert.rejects(skopeo(dir, ['copy', '--src-tls-verify=false', `docker://${proxy.host}/shop/app:1`, `oci:${dir}/layout:1`]), /Digest did not match/);
  writes.open();
  assert.ok(await eventually(async () => proxy.warnings.length > 0, 500));
  assert.match(proxy.warnings[0] ?? '', new RegExp(`^proxy: shop/app@${layer.digest} reached its clients but was not stored: .*does not match`));
  assert.equal(await proxy.deps.store.blob(parseDigest(layer.digest)!), undefined);
  assert.deepEqual(await fs.readdir(path.join(proxy.storeDir, 'tmp')), []);
});

test('with no client left to wait, the body waits for the writes: no second request', async (t) => {
  const blob = randomContent(SIZE, 35);
  const { front, ranges } = await rangeFront(t, blob);
  const proxy = await proxyFor(t, front);
  const writes = await holdWrites(t, proxy.storeDir);
  const controller = new AbortController();
  const response = await fetch(`${proxy.url}/v2/gone/blobs/${blob.digest}`, { signal: controller.signal });
  await response.body!.getReader().read();
  controller.abort();
  // The fetch goes on for the store alone, at the pace of its writes. What is asserted is that
  // something does not happen (a second request), so there is nothing to poll for: the writes are held
  // long enough for the body to have run 16 MiB ahead of them, were it not held back.
  await new Promise((resolve) => setTimeout(resolve, 300));
  writes.open();
  assert.ok(await eventually(async () => Boolean(await storedBytes(proxy, 'gone', blob)), 500));
  assert.equal(sha256((await storedBytes(proxy, 'gone', blob))!), blob.digest);
  assert.deepEqual(ranges, [undefined], 'one request: the writes never let go of the body');
});

test('with more than two fetches under way, the writes never let go: each body waits for them, and no second request is made', async (t) => {
  // Each more than the writes of one fetch among three could otherwise fall behind (10.7 MiB) plus its window.
  const blobs = [41, 42, 43].map((seed) => randomContent(24 << 20, seed));
  const requests: { digest: string; range?: string }[] = [];
  // The front answers once all three GETs have arrived, so all three fetches are under way before any body flows.
  const waiting: (() => void)[] = [];
  const front = await startFront(t, (req, res) => {
    const blob = blobs.find((candidate) => req.url?.endsWith(candidate.digest));
    if (!blob) return void res.writeHead(404).end();
    requests.push({ digest: blob.digest, range: req.headers.range });
    waiting.push(() => res.writeHead(200, { 'Content-Length': blob.size }).end(blob.bytes));
    if (waiting.length === blobs.length) for (const answer of waiting.splice(0)) answer();
  });
  const proxy = await proxyFor(t, front);
  const writes = await holdWrites(t, proxy.storeDir);
  let writesOpen = false;
  const pulls = blobs.map((blob) =>
    pull(proxy, `/v2/many/blobs/${blob.digest}`).then((result) => ({ ...result, beforeWrites: !writesOpen })),
  );
  // Long enough for the bodies to have run more than their lag ahead of the held writes, were they not held back.
  await new Promise((resolve) => setTimeout(resolve, 500));
  writesOpen = true;
  writes.open();
  const results = await Promise.all(pulls);
  for (const [index, { response, body, beforeWrites }] of results.entries()) {
    assert.equal(response.status, 200);
    assert.ok(body.equals(blobs[index]!.bytes));
    assert.equal(beforeWrites, false, 'no client had its last byte while the store could not write');
  }
  for (const blob of blobs) {
    assert.ok(await eventually(async () => Boolean(await storedBytes(proxy, 'many', blob)), 500));
    assert.equal(sha256((await storedBytes(proxy, 'many', blob))!), blob.digest);
  }
  assert.deepEqual(requests.map(({ digest }) => digest).sort(), blobs.map(({ digest }) => digest).sort(), 'each blob requested once');
  assert.deepEqual(requests.map(({ range }) => range), [undefined, undefined, undefined], 'one request per blob: the writes never let go');
});
