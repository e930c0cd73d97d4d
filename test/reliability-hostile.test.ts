// What a hostile client found: requests that made the registry answer 500, leave a tag pointing at
// nothing, keep bytes of a refused request, or log 200 for a request that never got one. Each case
// here failed before its fix. Races run a bounded number of seeded interleavings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import { REPO, call, descriptor, expectError, getBytes, manifestFrom, ociImage, pushImage, sha256, OCI_CONFIG, OCI_MANIFEST } from './helpers/oci-http.js';
import { prng } from './helpers/fuzz.js';
import { isStaleTemp, processStartMs } from '../src/store/atomic.js';

/** A session's Location, started over HTTP. */
async function startSession(registry: TestRegistry): Promise<string> {
  const response = await call(registry, `/v2/${REPO}/blobs/uploads/`, { method: 'POST' });
  assert.equal(response.status, 202);
  return response.headers.get('location') ?? '';
}

/** Writes text on a raw connection, half-closes it, and returns everything the server sent. */
function rawExchange(registry: TestRegistry, text: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(registry.port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end of answer within ${timeoutMs} ms: ${JSON.stringify(received)}`));
    }, timeoutMs);
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.end(text);
  });
}

test('a manifest whose declared media type cannot be a header value is refused at PUT, and nothing is stored', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage();
  await pushImage(registry, REPO, 'base', image);
  for (const [index, hostile] of ['application/vnd.\u2603+json', 'application/x\u0000y', 'a/\u0001', 'a/b\u007f', 'a/b\r\nX-Injected: 1', ''].entries()) {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: hostile, config: descriptor(image.config, OCI_CONFIG), layers: [] }));
    for (const contentType of [undefined, 'application/octet-stream', 'application/x-www-form-urlencoded']) {
      const headers: Record<string, string> = contentType ? { 'Content-Type': contentType } : {};
      const put = await call(registry, `/v2/${REPO}/manifests/hostile-${index}`, { method: 'PUT', headers, body });
      if (hostile === '') {
        // An empty mediaType is no media type at all: the OCI default applies, as before.
        assert.equal(put.status, 201, `empty mediaType, ${contentType}`);
        continue;
      }
      const error = await expectError(put, 400, 'MANIFEST_INVALID');
      assert.match(error.message, /not a valid media type/);
      await expectError(await call(registry, `/v2/${REPO}/manifests/sha256:${sha256(body).slice(7)}`), 404, 'MANIFEST_UNKNOWN');
    }
  }
  const tags = (await (await call(registry, `/v2/${REPO}/tags/list`)).json()) as { tags: string[] };
  assert.deepEqual(tags.tags.sort(), ['base', 'hostile-5']);
});

test('a manifest nested 5,000 levels deep in subject and annotations lands whole: 201, then GET by tag and digest', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage();
  await pushImage(registry, REPO, 'subject', image);
  const deep = (depth: number): unknown => (depth === 0 ? 'x' : { a: deep(depth - 1) });
  const value = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(image.config, OCI_CONFIG),
    layers: [],
    subject: { mediaType: OCI_MANIFEST, digest: image.manifest.digest, size: image.manifest.bytes.length, annotations: deep(5_000) },
    annotations: deep(5_000),
  };
  // JSON.stringify of that depth is itself beyond the stack: build the text by hand.
  const nested = `${'{"a":'.repeat(5_000)}"x"${'}'.repeat(5_000)}`;
  const text = JSON.stringify({ ...value, subject: { ...value.subject, annotations: '@A@' }, annotations: '@B@' })
    .replace('"@A@"', nested)
    .replace('"@B@"', nested);
  const manifest = manifestFrom(text, OCI_MANIFEST);
  const put = await call(registry, `/v2/${REPO}/manifests/deep`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: manifest.bytes });
  assert.equal(put.status, 201, await put.text());
  for (const reference of ['deep', manifest.digest]) {
    const got = await getBytes(registry, `/v2/${REPO}/manifests/${reference}`, { headers: { Accept: OCI_MANIFEST } });
    assert.equal(got.response.status, 200, reference);
    assert.equal(sha256(got.body), manifest.digest);
  }
  const referrers = await call(registry, `/v2/${REPO}/referrers/${image.manifest.digest}`);
  assert.equal(referrers.status, 200, 'the referrers API still answers for the subject');
  assert.ok(registry.logs.every((entry) => entry.status < 500), 'no 5xx');
});

test('a PUT by tag racing a DELETE by digest never leaves the tag naming a manifest that is gone (seeded, 40 rounds)', async (t) => {
  const registry = await startRegistry(t);
  const random = prng(20261201);
  for (let round = 0; round < 40; round++) {
    const image = ociImage({ seed: round + 1 });
    await pushImage(registry, REPO, `first-${round}`, image);
    const tag = `raced-${round}`;
    const put = () => call(registry, `/v2/${REPO}/manifests/${tag}`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: image.manifest.bytes });
    const del = () => call(registry, `/v2/${REPO}/manifests/${image.manifest.digest}`, { method: 'DELETE' });
    const [a, b] = random() < 0.5 ? [put(), del()] : [del(), put()];
    const answers = await Promise.all([a, b]);
    for (const answer of answers) assert.ok(answer.status < 500, `round ${round}: ${answer.status}`);
    const tags = ((await (await call(registry, `/v2/${REPO}/tags/list`)).json()) as { tags: string[] }).tags;
    const get = await call(registry, `/v2/${REPO}/manifests/${tag}`, { headers: { Accept: OCI_MANIFEST } });
    if (tags.includes(tag)) assert.equal(get.status, 200, `round ${round}: tags/list lists ${tag}, so it must pull`);
    else assert.equal(get.status, 404, `round ${round}`);
  }
});

test('every interleaving of PATCH, PUT, GET and DELETE on one upload gets a truthful answer, never 500 (seeded, 40 rounds)', async (t) => {
  const registry = await startRegistry(t);
  const random = prng(7);
  const chunk = Buffer.alloc(64 * 1024, 7);
  const digest = sha256(chunk);
  for (let round = 0; round < 40; round++) {
    const location = await startSession(registry);
    const requests: Record<string, () => Promise<Response>> = {
      patch: () => call(registry, location, { method: 'PATCH', body: chunk }),
      finish: () => call(registry, `${location}?digest=${digest}`, { method: 'PUT', body: chunk }),
      status: () => call(registry, location),
      cancel: () => call(registry, location, { method: 'DELETE' }),
    };
    const order = Object.keys(requests).sort(() => random() - 0.5);
    const answers = await Promise.all(order.map(async (name) => ({ name, response: await (requests[name] as () => Promise<Response>)() })));
    const ok: string[] = [];
    for (const { name, response } of answers) {
      assert.ok(response.status < 300 || response.status === 404 || response.status === 416, `round ${round} ${name}: ${response.status}`);
      if (response.status === 404) await expectError(response, 404, 'BLOB_UPLOAD_UNKNOWN');
      else if (response.status < 300) ok.push(name);
      else await response.body?.cancel();
    }
    assert.ok(!(ok.includes('finish') && ok.includes('cancel')), `round ${round}: a finished upload cannot also be cancelled (${ok.join(', ')})`);
    if (ok.includes('finish')) assert.equal((await call(registry, `/v2/${REPO}/blobs/${digest}`, { method: 'HEAD' })).status, 200);
  }
  assert.ok(registry.logs.every((entry) => entry.status < 500), 'no 5xx in the log');
});

test('a PATCH refused for a Content-Range it does not match keeps none of its bytes', async (t) => {
  const registry = await startRegistry(t);
  const location = await startSession(registry);
  const refused = await call(registry, location, { method: 'PATCH', headers: { 'Content-Range': '0-99' }, body: Buffer.alloc(10, 1) });
  await expectError(refused, 416, 'RANGE_INVALID');
  assert.equal(refused.headers.get('range'), '0-0');
  const status = await call(registry, location);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), '0-0', 'nothing was appended');
  const right = await call(registry, location, { method: 'PATCH', headers: { 'Content-Range': '0-9' }, body: Buffer.alloc(10, 1) });
  assert.equal(right.status, 202);
  assert.equal(right.headers.get('range'), '0-9');
});

test('a body cut off mid-way gets the OCI envelope, and the log never says 200 for a request that got none', async (t) => {
  const registry = await startRegistry(t);
  const location = await startSession(registry);
  const answer = await rawExchange(registry, `PATCH ${location} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789`);
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.match(answer, /Docker-Distribution-API-Version: registry\/2\.0/i);
  assert.match(answer, /"code":"BLOB_UPLOAD_INVALID"/);

  // A client that hangs up on broken/timeout.
  const socket = net.connect(registry.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write('GET /v2/broken/timeout/manifests/dur-30s HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((resolve) => setTimeout(resolve, 100));
  socket.destroy();

  for (let i = 0; i < 200 && registry.logs.filter((entry) => entry.path.includes('dur-30s') || entry.method === 'PATCH').length < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const patch = registry.logs.find((entry) => entry.method === 'PATCH');
  const timeout = registry.logs.find((entry) => entry.path.includes('dur-30s'));
  assert.ok(patch && timeout, 'both requests are logged');
  for (const entry of [patch, timeout]) {
    assert.notEqual(entry.status, 200, `${entry.method} ${entry.path}`);
    assert.equal(entry.status, 499);
    assert.equal(entry.sent, 0, 'no status line was sent by the app');
  }
});

test('a temp file is kept only while the process that wrote it is the one running under its pid', async () => {
  const parent = process.ppid;
  const started = processStartMs(parent);
  assert.ok(started !== undefined && Math.abs(started - Date.now()) < 30 * 24 * 3600 * 1000, 'the parent has a start time from /proc');
  const name = (start: number) => `${parent}-${Math.round(start).toString(36)}-0123456789abcdef`;
  assert.equal(isStaleTemp(name(started)), false, 'the writer is still running');
  assert.equal(isStaleTemp(name(started - 3600_000)), true, 'the pid now belongs to a process started an hour later');
  assert.equal(isStaleTemp(name(started), () => started + 3600_000), true);
  assert.equal(isStaleTemp(name(started), () => undefined), false, 'without /proc, a running pid keeps its temps');
});

test('smaller: broken/timeout blobs are BLOB_UNKNOWN, Expect gets the envelope, broken/error/<x> names the status part', async (t) => {
  const registry = await startRegistry(t);
  const digest = `sha256:${'a'.repeat(64)}`;
  for (const method of ['GET', 'HEAD']) {
    const response = await call(registry, `/v2/broken/timeout/blobs/${digest}`, { method });
    assert.equal(response.status, 404, method);
    if (method === 'GET') await expectError(response, 404, 'BLOB_UNKNOWN');
  }
  const expect = await rawExchange(registry, 'GET /v2/ HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n');
  assert.match(expect, /^HTTP\/1\.1 417 /);
  assert.match(expect, /Docker-Distribution-API-Version: registry\/2\.0/i);
  assert.match(expect, /"code":"EXPECTATION_FAILED"/);
  const nested = await call(registry, '/v2/broken/error/foo/x/manifests/y');
  const error = await expectError(nested, 501, 'NOT_IMPLEMENTED');
  assert.deepEqual(error.detail, { status: 'foo' });
});
