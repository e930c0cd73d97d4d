// The pull-through proxy against real upstreams on 127.0.0.1: another broken-reg (its broken/prepared
// namespace, reached with `--upstream 127.0.0.1:<port>/broken/prepared`), CNCF distribution, and node
// fronts that dribble, redirect, challenge or hang. skopeo pulls through it too. Nothing leaves 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startRegistry, makeTempDir } from './helpers/registry.js';
import { eventually, expectError, ociImage, OCI_INDEX, OCI_MANIFEST, pushImage, randomContent, type Content } from './helpers/oci-http.js';
import { expectedBlobs, makeTestImages, readOciLayout } from './helpers/images.js';
import {
  ask, forward, gate, manualClock, pull, pushBlobTo, pushManifestTo, skopeo, startDistribution, startFront, startProxy, writeDockerConfig, type Front, type ProxyStart,
} from './helpers/proxy.js';
import { parseDigest } from '../src/oci/digest.js';
import { getToken, pushImageAs, startAuthRegistry, USERS } from './helpers/auth.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

test('pulls through by tag and digest, records the upstream, and serves from the store with the upstream gone', async (t) => {
  const upstream = await startRegistry(t);
  const image = ociImage({ seed: 7, layerCount: 2, layerSize: 50_000 });
  await pushImage(upstream, 'broken/prepared/app', 'v1', image);
  const proxy = await startProxy(t, { flags: { upstream: `${upstream.host}/broken/prepared`, upstreamInsecure: [upstream.host] } });

  const byTag = await pull(proxy, '/v2/app/manifests/v1', { headers: { Accept: OCI_MANIFEST } });
  assert.equal(byTag.response.status, 200);
  assert.deepEqual(byTag.body, image.manifest.bytes);
  assert.equal(byTag.response.headers.get('content-type'), OCI_MANIFEST);
  assert.equal(byTag.response.headers.get('docker-content-digest'), image.manifest.digest);
  const byDigest = await pull(proxy, `/v2/app/manifests/${image.manifest.digest}`);
  assert.deepEqual(byDigest.body, image.manifest.bytes);
  for (const blob of [image.config, ...image.layers]) assert.deepEqual((await pull(proxy, `/v2/app/blobs/${blob.digest}`)).body, blob.bytes);
  const meta = JSON.parse(await fs.readFile(path.join(proxy.storeDir, 'repositories', 'app', '_meta.json'), 'utf8')) as unknown;
  assert.deepEqual(meta, { upstream: upstream.host, upstreamRepository: 'broken/prepared/app' });

  await upstream.stop();
  const offline = await pull(proxy, '/v2/app/manifests/v1');
  assert.equal(offline.response.status, 200);
  assert.deepEqual(offline.body, image.manifest.bytes);
  assert.equal((await pull(proxy, `/v2/app/manifests/${image.manifest.digest}`, { method: 'HEAD' })).response.status, 200);
  for (const blob of [image.config, ...image.layers]) assert.deepEqual((await pull(proxy, `/v2/app/blobs/${blob.digest}`)).body, blob.bytes);

  const gone = await expectError(await ask(proxy, '/v2/app/manifests/v2'), 502, 'BAD_GATEWAY');
  assert.match(gone.message, new RegExp(upstream.host.replace(/\./g, '\\.')));
  const push = await fetch(`${proxy.url}/v2/app/manifests/v3`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: new Uint8Array(image.manifest.bytes) });
  await expectError(push, 403, 'DENIED');
});

test('a cached tag is re-checked upstream once per --proxy-ttl, and served from the cache when the upstream fails', async (t) => {
  const upstream = await startRegistry(t);
  const first = ociImage({ seed: 1 });
  const second = ociImage({ seed: 2 });
  await pushImage(upstream, 'broken/prepared/ttl', 'latest', first);
  const clock = manualClock();
  const proxy = await startProxy(t, { clock, flags: { upstream: `${upstream.host}/broken/prepared`, upstreamInsecure: [upstream.host], proxyTtl: '5m' } });
  const digestNow = async () => (await pull(proxy, '/v2/ttl/manifests/latest')).response.headers.get('docker-content-digest');
  const manifestRequests = () => upstream.logs.filter((entry) => entry.path.includes('/manifests/')).length;

  assert.equal(await digestNow(), first.manifest.digest);
  await pushImage(upstream, 'broken/prepared/ttl', 'latest', second);
  await eventually(async () => manifestRequests() === 3); // two pushes and the fetch
  clock.advance(4 * 60_000);
  assert.equal(await digestNow(), first.manifest.digest, 'within the TTL the cache answers');
  assert.equal(manifestRequests(), 3, 'and the upstream is not asked');
  clock.advance(2 * 60_000);
  assert.equal(await digestNow(), second.manifest.digest, 'after the TTL the tag moves');
  await upstream.stop();
  clock.advance(10 * 60_000);
  assert.equal(await digestNow(), second.manifest.digest, 'an unreachable upstream leaves the cached manifest');
});

test('manifest indexes from CNCF distribution pull through, and skopeo copies the whole index via the proxy', async (t) => {
  const distribution = await startDistribution(t);
  const { index } = await makeTestImages();
  for (const child of index.children) {
    for (const blob of child.blobs) await pushBlobTo(distribution, 'team/multi', blob.bytes, blob.digest);
    await pushManifestTo(distribution, 'team/multi', child.manifest.digest, child.manifest.bytes, child.manifest.mediaType);
  }
  await pushManifestTo(distribution, 'team/multi', 'latest', index.manifest.bytes, OCI_INDEX);
  const proxy = await startProxy(t, { flags: { upstream: distribution.host, upstreamInsecure: [distribution.host] } });

  const got = await pull(proxy, '/v2/team/multi/manifests/latest', { headers: { Accept: `${OCI_INDEX}, ${OCI_MANIFEST}` } });
  assert.equal(got.response.status, 200);
  assert.equal(got.response.headers.get('content-type'), OCI_INDEX);
  assert.deepEqual(got.body, index.manifest.bytes);

  const dir = await makeTempDir(t, 'broken-reg-skopeo-');
  await skopeo(dir, ['copy', '--all', '--src-tls-verify=false', `docker://${proxy.host}/team/multi:latest`, `oci:${dir}/layout:latest`]);
  const found = await readOciLayout(path.join(dir, 'layout'), 'latest');
  assert.equal(found.digest, index.manifest.digest);
  assert.deepEqual(found.blobs, expectedBlobs(index));

  await distribution.stop();
  const offline = await skopeo(dir, ['inspect', '--raw', '--tls-verify=false', `docker://${proxy.host}/team/multi:latest`]);
  assert.equal(offline.stdout, index.manifest.bytes.toString('utf8'));
});

/** A front serving one blob: the first 64 KiB at once, the rest when the gate opens. Counts GETs. */
async function dribblingFront(t: Parameters<typeof startFront>[0], blob: Content, opened: Promise<void>) {
  const counts = { blobGets: 0 };
  const front = await startFront(t, (req, res) => {
    if (req.method === 'GET' && req.url === `/v2/slow/blobs/${blob.digest}`) {
      counts.blobGets++;
      res.writeHead(200, { 'Content-Length': blob.size, 'Content-Type': 'application/octet-stream' });
      res.write(blob.bytes.subarray(0, 65536));
      void opened.then(() => res.end(blob.bytes.subarray(65536)));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND","message":"no"}]}');
  });
  return { front, counts };
}

const proxyFor = (t: Parameters<typeof startFront>[0], front: Front, extra: Partial<ProxyStart> = {}) =>
  startProxy(t, { flags: { upstream: front.host, upstreamInsecure: [front.host] }, ...extra });

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>, start: Uint8Array[] = []): Promise<Buffer> {
  const chunks = [...start];
  for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
  return Buffer.concat(chunks);
}

test('a blob streams to the client before the upstream has sent all of it', async (t) => {
  const blob = randomContent(3 << 20, 5);
  const release = gate();
  const { front } = await dribblingFront(t, blob, release.opened);
  const proxy = await proxyFor(t, front);
  const response = await fetch(`${proxy.url}/v2/slow/blobs/${blob.digest}`, { signal: AbortSignal.timeout(20_000) });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-length'), String(blob.size));
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.ok(first.value && first.value.length > 0, 'bytes arrive while the upstream holds the rest');
  assert.deepEqual(Buffer.from(first.value), blob.bytes.subarray(0, first.value.length));
  release.open();
  assert.deepEqual(await readAll(reader, [first.value]), blob.bytes);
});

test('concurrent pulls of one uncached blob cause one upstream fetch', async (t) => {
  const blob = randomContent(2 << 20, 6);
  const release = gate();
  const { front, counts } = await dribblingFront(t, blob, release.opened);
  const proxy = await proxyFor(t, front);
  const responses = await Promise.all(
    Array.from({ length: 5 }, () => fetch(`${proxy.url}/v2/slow/blobs/${blob.digest}`, { signal: AbortSignal.timeout(20_000) })),
  );
  release.open();
  for (const response of responses) assert.deepEqual(Buffer.from(await response.arrayBuffer()), blob.bytes);
  assert.equal(counts.blobGets, 1);
  assert.deepEqual((await pull(proxy, `/v2/slow/blobs/${blob.digest}`)).body, blob.bytes);
  assert.equal(counts.blobGets, 1, 'later pulls come from the store');
});

test('a late reader catches up from the temp file, and a Range is served while the fetch runs', async (t) => {
  const blob = randomContent(24 << 20, 7);
  const release = gate();
  const head = 20 << 20;
  const front = await startFront(t, (_req, res) => {
    res.writeHead(200, { 'Content-Length': blob.size });
    res.write(blob.bytes.subarray(0, head));
    void release.opened.then(() => res.end(blob.bytes.subarray(head)));
  });
  const proxy = await proxyFor(t, front);
  const early = (await fetch(`${proxy.url}/v2/late/blobs/${blob.digest}`, { signal: AbortSignal.timeout(20_000) })).body!.getReader();
  const received: Uint8Array[] = [];
  let size = 0;
  while (size < head - 1) {
    const next = await early.read();
    assert.ok(!next.done);
    received.push(next.value);
    size += next.value.length;
  }
  // The fetch is now past the bytes it keeps in memory: this reader starts from the file.
  const late = fetch(`${proxy.url}/v2/late/blobs/${blob.digest}`, { signal: AbortSignal.timeout(20_000) });
  const ranged = await ask(proxy, `/v2/late/blobs/${blob.digest}`, { headers: { Range: 'bytes=1000-1999' } });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers.get('content-range'), `bytes 1000-1999/${blob.size}`);
  assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), blob.bytes.subarray(1000, 2000));
  release.open();
  assert.deepEqual(Buffer.from(await (await late).arrayBuffer()), blob.bytes);
  assert.deepEqual(await readAll(early, received), blob.bytes);
});

test('a client hanging up mid-blob does not corrupt the cache: the fetch completes and later pulls are identical', async (t) => {
  const blob = randomContent(2 << 20, 8);
  const release = gate();
  const { front, counts } = await dribblingFront(t, blob, release.opened);
  const proxy = await proxyFor(t, front);
  const controller = new AbortController();
  const response = await fetch(`${proxy.url}/v2/slow/blobs/${blob.digest}`, { signal: controller.signal });
  await response.body!.getReader().read();
  controller.abort();
  release.open();
  const digest = parseDigest(blob.digest)!;
  assert.ok(await eventually(async () => Boolean(await proxy.deps.store.repositoryBlob('slow', digest)), 250));
  assert.deepEqual(await fs.readFile((await proxy.deps.store.blob(digest))?.path ?? ''), blob.bytes);
  assert.deepEqual((await pull(proxy, `/v2/slow/blobs/${blob.digest}`)).body, blob.bytes);
  assert.equal(counts.blobGets, 1);
  assert.deepEqual(await fs.readdir(path.join(proxy.storeDir, 'tmp')), []);
});

test('a fetch that fails after its client hung up is not stored, and the server says so', async (t) => {
  const blob = randomContent(2 << 20, 11);
  const cut = gate();
  const front = await startFront(t, (_req, res) => {
    res.writeHead(200, { 'Content-Length': blob.size });
    res.write(blob.bytes.subarray(0, 1000));
    void cut.opened.then(() => res.destroy());
  });
  const proxy = await proxyFor(t, front);
  const controller = new AbortController();
  const response = await fetch(`${proxy.url}/v2/gone/blobs/${blob.digest}`, { signal: controller.signal });
  await response.body!.getReader().read();
  controller.abort();
  // The request is logged once its response has closed: the fetch then goes on for the store alone.
  assert.ok(await eventually(async () => proxy.logs.some((entry) => entry.path.includes('/gone/'))));
  assert.deepEqual(proxy.warnings, []);
  cut.open();
  assert.ok(await eventually(async () => proxy.warnings.length > 0));
  assert.match(proxy.warnings[0] ?? '', new RegExp(`^proxy: gone@${blob.digest} was not stored, its clients gone: upstream .* cut .* off after 1000 bytes`));
  assert.equal(await proxy.deps.store.blob(parseDigest(blob.digest)!), undefined);
});

test('an upstream that cuts a blob short leaves nothing stored', async (t) => {
  const blob = randomContent(1 << 20, 9);
  let cut = true;
  const front = await startFront(t, (req, res) => {
    res.writeHead(200, { 'Content-Length': blob.size });
    if (cut) res.write(blob.bytes.subarray(0, 1000), () => res.destroy());
    else res.end(blob.bytes);
  });
  const proxy = await proxyFor(t, front);
  // Cut before the proxy's answer began: 502 in the envelope; after: the connection is cut too.
  const outcome = await pull(proxy, `/v2/cut/blobs/${blob.digest}`).then(
    async ({ response, body }) => `${response.status} ${response.status === 502 ? (JSON.parse(body.toString()) as { errors: { code: string }[] }).errors[0]?.code : ''}`,
    () => 'cut',
  );
  assert.ok(outcome === 'cut' || outcome === '502 BAD_GATEWAY', `a cut connection or 502 BAD_GATEWAY, not ${outcome}`);
  assert.ok(await eventually(async () => (await fs.readdir(path.join(proxy.storeDir, 'tmp'))).length === 0));
  assert.equal(await proxy.deps.store.blob(parseDigest(blob.digest)!), undefined);
  assert.deepEqual(proxy.warnings, [], 'the client heard of it');
  cut = false;
  assert.deepEqual((await pull(proxy, `/v2/cut/blobs/${blob.digest}`)).body, blob.bytes);
});

test('a blob the upstream sends without a length (chunked) streams and is stored', async (t) => {
  const blob = randomContent(300_000, 10);
  const front = await startFront(t, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    res.write(blob.bytes.subarray(0, 1000));
    setImmediate(() => res.end(blob.bytes.subarray(1000)));
  });
  const proxy = await proxyFor(t, front);
  const first = await pull(proxy, `/v2/chunked/blobs/${blob.digest}`);
  assert.equal(first.response.status, 200);
  assert.deepEqual(first.body, blob.bytes);
  await front.stop();
  assert.ok(await eventually(async () => Boolean(await proxy.deps.store.repositoryBlob('chunked', parseDigest(blob.digest)!))));
  const again = await pull(proxy, `/v2/chunked/blobs/${blob.digest}`, { headers: { Range: 'bytes=-10' } });
  assert.equal(again.response.status, 206);
  assert.deepEqual(again.body, blob.bytes.subarray(-10));
});

test('the token flow: a Bearer challenge is answered with credentials from the Docker config', async (t) => {
  // The upstream is broken-reg itself with --auth token: its /token realm, bcrypt users, no anonymous pulls.
  const upstream = await startAuthRegistry(t, { mode: 'token', anonymous: 'none' });
  const image = ociImage({ seed: 21 });
  const pushToken = (await getToken(`${upstream.url}/token`, { scope: ['repository:broken/prepared/secure:pull,push'] }, basic('alice', USERS.alice))).token;
  await pushImageAs(upstream, `Bearer ${pushToken}`, 'broken/prepared/secure', 'v1', image);
  const flags = { upstream: `${upstream.host}/broken/prepared`, upstreamInsecure: [upstream.host] };
  const config = await writeDockerConfig(await makeTempDir(t), { [upstream.host]: { username: 'alice', password: USERS.alice } });
  const proxy = await startProxy(t, { flags, env: { DOCKER_CONFIG: config } });
  assert.deepEqual((await pull(proxy, '/v2/secure/manifests/v1')).body, image.manifest.bytes);
  for (const blob of [image.config, ...image.layers]) assert.deepEqual((await pull(proxy, `/v2/secure/blobs/${blob.digest}`)).body, blob.bytes);
  const realm = upstream.logs.filter((entry) => entry.scenario === 'token');
  assert.equal(realm.length, 2, 'one token for the push, one for the proxy, reused for every request');
  assert.match(realm[1]?.detail ?? '', /grant=basic account="alice" .*scope="repository:broken\/prepared\/secure:pull"/);

  const anonymous = await startProxy(t, { flags, env: { DOCKER_CONFIG: await makeTempDir(t) } });
  const refused = await expectError(await ask(anonymous, '/v2/secure/manifests/v1'), 401, 'UNAUTHORIZED');
  assert.match(refused.message, new RegExp(upstream.host));
});

test('a Basic challenge from CNCF distribution (htpasswd) is answered from the Docker config', async (t) => {
  const distribution = await startDistribution(t, { username: 'bob', password: 'hunter2' });
  const image = ociImage({ seed: 31 });
  const target = { url: distribution.url, authorization: basic('bob', 'hunter2') };
  for (const blob of [image.config, ...image.layers]) await pushBlobTo(target, 'team/private', blob.bytes, blob.digest);
  await pushManifestTo(target, 'team/private', 'v1', image.manifest.bytes, OCI_MANIFEST);
  const flags = { upstream: distribution.host, upstreamInsecure: [distribution.host] };
  const config = await writeDockerConfig(await makeTempDir(t), { [`http://${distribution.host}`]: { username: 'bob', password: 'hunter2' } });
  const proxy = await startProxy(t, { flags, env: { DOCKER_CONFIG: config } });
  assert.deepEqual((await pull(proxy, '/v2/team/private/manifests/v1')).body, image.manifest.bytes);
  assert.deepEqual((await pull(proxy, `/v2/team/private/blobs/${image.layers[0]!.digest}`)).body, image.layers[0]!.bytes);
  const anonymous = await startProxy(t, { flags, env: { DOCKER_CONFIG: await makeTempDir(t) } });
  await expectError(await ask(anonymous, '/v2/team/private/manifests/v1'), 401, 'UNAUTHORIZED');
});

test('a blob redirect to another host is followed without the credentials', async (t) => {
  const blob = randomContent(100_000, 41);
  const cdnSaw: (string | undefined)[] = [];
  const registrySaw: (string | undefined)[] = [];
  const cdn = await startFront(t, (req, res) => {
    cdnSaw.push(req.headers.authorization);
    res.writeHead(200, { 'Content-Length': blob.size }).end(blob.bytes);
  });
  const registry = await startFront(t, (req, res) => {
    registrySaw.push(req.headers.authorization);
    if (req.headers.authorization !== basic('carol', 'pw')) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="registry"' }).end();
      return;
    }
    res.writeHead(307, { Location: `${cdn.url}/cdn/${blob.digest}?sig=abc` }).end();
  });
  const config = await writeDockerConfig(await makeTempDir(t), { [registry.host]: { username: 'carol', password: 'pw' } });
  const proxy = await startProxy(t, {
    flags: { upstream: registry.host, upstreamInsecure: ['127.0.0.1'], allowUpstream: ['127.0.0.1'] },
    env: { DOCKER_CONFIG: config },
  });
  assert.deepEqual((await pull(proxy, `/v2/app/blobs/${blob.digest}`)).body, blob.bytes);
  assert.deepEqual(registrySaw, [undefined, basic('carol', 'pw')]);
  assert.deepEqual(cdnSaw, [undefined], 'the CDN never sees the registry credentials');
});

test('hosts outside --allow-upstream and private addresses are refused with DENIED', async (t) => {
  const closed = await startProxy(t, { flags: {} });
  const refused = await expectError(await ask(closed, '/v2/registry.evil.test/x/manifests/latest'), 403, 'DENIED');
  assert.match(refused.message, /--allow-upstream registry\.evil\.test/);

  const toLoopback = async () => [{ address: '127.0.0.1', family: 4 }];
  const wildcard = await startProxy(t, { flags: { allowUpstream: ['*.example.test'] }, lookup: toLoopback });
  const loopback = await expectError(await ask(wildcard, '/v2/reg.example.test/x/manifests/v1'), 403, 'DENIED');
  assert.match(loopback.message, /127\.0\.0\.1.*private/);

  // DNS rebinding: public when checked, loopback when connecting. The connection is refused too.
  let lookups = 0;
  const rebinding = async () => [{ address: lookups++ === 0 ? '203.0.113.7' : '127.0.0.1', family: 4 }];
  const rebound = await startProxy(t, { flags: { allowUpstream: ['*.example.test'] }, lookup: rebinding });
  const refusedAtConnect = await expectError(await ask(rebound, '/v2/reg.example.test/x/manifests/v1'), 403, 'DENIED');
  assert.match(refusedAtConnect.message, /private address 127\.0\.0\.1/);
  assert.equal(lookups, 2);

  const toMetadata = async () => [{ address: '203.0.113.7', family: 4 }, { address: '169.254.169.254', family: 4 }];
  const defaults = await startProxy(t, { flags: {}, lookup: toMetadata });
  const metadata = await expectError(await ask(defaults, '/v2/some/image/manifests/v1'), 403, 'DENIED');
  assert.match(metadata.message, /quay\.io resolves to 169\.254\.169\.254/);
});

test('an upstream named by a host name resolving to loopback works when --upstream names it exactly', async (t) => {
  const upstream = await startRegistry(t);
  const image = ociImage({ seed: 51 });
  await pushImage(upstream, 'broken/prepared/named', 'v1', image);
  const host = `registry.example.test:${upstream.port}`;
  const resolved: string[] = [];
  const lookup = async (hostname: string) => {
    resolved.push(hostname);
    return [{ address: '127.0.0.1', family: 4 }];
  };
  const proxy = await startProxy(t, { flags: { upstream: `${host}/broken/prepared`, upstreamInsecure: [host] }, lookup });
  assert.deepEqual((await pull(proxy, '/v2/named/manifests/v1')).body, image.manifest.bytes);
  assert.ok(resolved.includes('registry.example.test'));
  const meta = JSON.parse(await fs.readFile(path.join(proxy.storeDir, 'repositories', 'named', '_meta.json'), 'utf8')) as { upstream: string };
  assert.equal(meta.upstream, host);
});

test('upstream failures for uncached content map to OCI errors naming the upstream', async (t) => {
  const upstream = await startRegistry(t);
  const proxy = await startProxy(t, { flags: { upstream: `${upstream.host}/broken/prepared`, upstreamInsecure: [upstream.host] } });
  const missing = await expectError(await ask(proxy, '/v2/nothing/manifests/v1'), 404, 'MANIFEST_UNKNOWN');
  assert.match(missing.message, new RegExp(upstream.host));
  await expectError(await ask(proxy, `/v2/nothing/blobs/${randomContent(10, 1).digest}`), 404, 'BLOB_UNKNOWN');

  const forbidden = await startFront(t, (_req, res) => res.writeHead(403, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"DENIED","message":"nope"}]}'));
  const denied = await expectError(await ask(await proxyFor(t, forbidden), '/v2/x/manifests/v1'), 403, 'DENIED');
  assert.match(denied.message, new RegExp(`${forbidden.host}.*nope`));

  const silent = await startFront(t, () => undefined);
  const slowProxy = await proxyFor(t, silent, { adjust: (o) => ({ ...o, timeouts: { connectMs: 1000, headersMs: 300, bodyMs: 300 } }) });
  const timedOut = await expectError(await ask(slowProxy, '/v2/x/manifests/v1'), 504, 'GATEWAY_TIMEOUT');
  assert.match(timedOut.message, new RegExp(silent.host));
});
