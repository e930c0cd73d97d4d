// broken/fault over real HTTP: every key, on an image pushed to broken/prepared, through a server on
// 127.0.0.1. Waits run on a virtual clock (each sleep is recorded and advances it), so the pacing of
// rate, stall, drip and delay is checked exactly and fast; cuts and resets use the real sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { Clock } from '../src/clock.js';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import { resolveProxyOptions } from '../src/proxy/index.js';
import { call, expectError, ociImage, pushImage, randomContent, sha256, type ImageParts } from './helpers/oci-http.js';

const INNER = 'broken/prepared/app';
const LAYER = 64 * 1024;

interface VirtualClock {
  clock: Clock;
  waits: number[];
}

/** A clock whose sleeps return at once, recorded, moving now() on by their length. */
function virtualClock(): VirtualClock {
  let elapsed = 0;
  const waits: number[] = [];
  return {
    waits,
    clock: {
      now: () => new Date(Date.UTC(2026, 0, 1) + elapsed),
      sleep: async (ms) => {
        waits.push(ms);
        elapsed += ms;
        await new Promise((resolve) => setImmediate(resolve));
      },
    },
  };
}

async function setup(t: Parameters<typeof startRegistry>[0], clock?: Clock): Promise<{ registry: TestRegistry; image: ImageParts }> {
  const registry = await startRegistry(t, { clock });
  const image = ociImage({ layerCount: 2, layerSize: LAYER, seed: 5 });
  await pushImage(registry, INNER, 'v1', image);
  return { registry, image };
}

const faulted = (rules: string, rest: string) => `/v2/broken/fault/${rules}/${INNER}/${rest}`;

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** How the body ended when it did not end well: the socket error code, or 'aborted'. */
  error?: string;
}

/** A GET that reports a cut body instead of failing: the bytes received and how it ended. */
function rawGet(registry: TestRegistry, path: string, headers: http.OutgoingHttpHeaders = {}, onData?: (received: number) => void): Promise<Raw> {
  return new Promise((resolve, reject) => {
    let socketError: string | undefined;
    const request = http.get({ host: '127.0.0.1', port: registry.port, path, headers, agent: false, signal: AbortSignal.timeout(10_000) }, (response) => {
      const chunks: Buffer[] = [];
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        onData?.(received);
      });
      response.on('error', (error: NodeJS.ErrnoException) => (socketError = error.code));
      // A reset shows as the response's error (ECONNRESET), just before it closes.
      response.on('close', () =>
        setImmediate(() => {
          const error = response.complete ? undefined : (socketError ?? 'aborted');
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), error });
        }),
      );
    });
    request.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve({ status: 0, headers: {}, body: Buffer.alloc(0), error: 'ECONNRESET' }) : reject(error)));
  });
}

/** A GET on a bare socket: the body bytes after the head, and how the connection ended (FIN or RST). */
function socketGet(registry: TestRegistry, path: string): Promise<{ head: string; body: Buffer; ending: 'eof' | string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: registry.port });
    const chunks: Buffer[] = [];
    const finish = (ending: string) => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      resolve({ head: all.subarray(0, end).toString('latin1'), body: all.subarray(end + 4), ending });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish('timeout');
    }, 10_000);
    socket.on('connect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish('eof'));
    socket.on('error', (error: NodeJS.ErrnoException) => finish(error.code ?? 'error'));
  });
}

async function statusOf(registry: TestRegistry, path: string, init: Parameters<typeof call>[2] = {}): Promise<number> {
  const response = await call(registry, path, init);
  await response.arrayBuffer();
  return response.status;
}

test('bad rules answer every request under the name with 400 NAME_INVALID naming the key and listing the known ones', async (t) => {
  const { registry, image } = await setup(t);
  const layer = image.layers[0]?.digest ?? '';
  for (const [rules, key] of [
    ['bogus-1', 'bogus'],
    ['status-600', 'status'],
    ['status-500_status-503', 'status'],
    ['reset-1k_close-1k', 'close'],
  ]) {
    for (const [method, rest] of [
      ['GET', 'manifests/v1'],
      ['HEAD', 'manifests/v1'],
      ['GET', `blobs/${layer}`],
      ['GET', 'tags/list'],
      ['POST', 'blobs/uploads/'],
    ] as const) {
      const response = await call(registry, faulted(rules as string, rest), { method });
      if (method === 'HEAD') {
        assert.equal(response.status, 400, `${rules} ${method} ${rest}`);
        continue;
      }
      const error = await expectError(response, 400, 'NAME_INVALID');
      assert.match(error.message, new RegExp(`"${key}"|${key} `), `${rules}: names ${key}`);
      assert.match(error.message, /known keys: on, method, digest, times, after/);
      assert.equal((error.detail as { key: string }).key, key);
    }
  }
  // The inner name itself is untouched.
  assert.equal(await statusOf(registry, `/v2/${INNER}/manifests/v1`), 200);
});

test('status-503_times-2 on blobs: each blob fails twice, then passes; manifests are not selected', async (t) => {
  const { registry, image } = await setup(t);
  const rules = 'on-blob_status-503_times-2';
  assert.equal(await statusOf(registry, faulted(rules, 'manifests/v1')), 200);
  for (const layer of image.layers) {
    const first = await call(registry, faulted(rules, `blobs/${layer.digest}`));
    await expectError(first, 503, 'UNAVAILABLE');
    assert.equal(first.headers.get('retry-after'), '1');
    assert.equal(await statusOf(registry, faulted(rules, `blobs/${layer.digest}`)), 503);
    const third = await call(registry, faulted(rules, `blobs/${layer.digest}`));
    assert.equal(third.status, 200);
    assert.equal(sha256(Buffer.from(await third.arrayBuffer())), layer.digest);
  }
  // HEAD counts on its own (another method), and another rule set has its own counts.
  const layer = image.layers[0]?.digest ?? '';
  assert.equal(await statusOf(registry, faulted(rules, `blobs/${layer}`), { method: 'HEAD' }), 503);
  assert.equal(await statusOf(registry, faulted('on-blob_status-503_times-1', `blobs/${layer}`)), 503);
  assert.equal(await statusOf(registry, faulted('on-blob_status-503_times-1', `blobs/${layer}`)), 200);
});

test('after-N lets N pass first; with times-M the next M fail, then all pass', async (t) => {
  const { registry } = await setup(t);
  const statuses = [];
  for (let i = 0; i < 5; i++) statuses.push(await statusOf(registry, faulted('on-manifest_after-2_times-2_status-500', 'manifests/v1')));
  assert.deepEqual(statuses, [200, 200, 500, 500, 200]);
});

test('status: protocol headers, retry-, retrydate-, retry-none, challenge-none and the body variants', async (t) => {
  const { clock } = virtualClock();
  const { registry } = await setup(t, clock);
  const get = (rules: string) => call(registry, faulted(rules, 'manifests/v1'));
  const limited = await get('status-429_retry-2');
  await expectError(limited, 429, 'TOOMANYREQUESTS');
  assert.equal(limited.headers.get('retry-after'), '2');
  const dated = await get('status-503_retrydate-5');
  await dated.arrayBuffer();
  assert.equal(dated.headers.get('retry-after'), new Date(Date.UTC(2026, 0, 1) + 5000).toUTCString());
  const none = await get('status-429_retry-none');
  await none.arrayBuffer();
  assert.equal(none.headers.get('retry-after'), null);
  const challenged = await get('status-401');
  await expectError(challenged, 401, 'UNAUTHORIZED');
  assert.match(challenged.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
  const bare = await get('status-401_challenge-none');
  await bare.arrayBuffer();
  assert.equal(bare.status, 401);
  assert.equal(bare.headers.get('www-authenticate'), null);
  const html = await get('status-502_body-html');
  assert.equal(html.status, 502);
  assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(await html.text(), /<h1>502 Bad Gateway<\/h1>/);
  const text = await get('status-500_body-text');
  assert.match(text.headers.get('content-type') ?? '', /^text\/plain/);
  assert.equal(await text.text(), 'Working as intended... probably...\n');
  const json = await get('status-429_body-json');
  assert.deepEqual(await json.json(), { message: 'too many requests' });
  const empty = await get('status-500_body-empty');
  assert.equal(empty.headers.get('content-length'), '0');
  assert.equal(empty.headers.get('content-type'), null);
  assert.equal((await empty.arrayBuffer()).byteLength, 0);
});

test('delay- waits before the status line, on the clock', async (t) => {
  const { clock, waits } = virtualClock();
  const { registry } = await setup(t, clock);
  assert.equal(await statusOf(registry, faulted('delay-1500ms', 'manifests/v1')), 200);
  assert.deepEqual(waits, [1500]);
  assert.equal(await statusOf(registry, faulted('delay-2s_status-503', 'manifests/v1')), 503);
  assert.deepEqual(waits, [1500, 2000]);
});

test('rate- paces the body to that many bytes per second, the bytes unchanged', async (t) => {
  const { clock, waits } = virtualClock();
  const { registry, image } = await setup(t, clock);
  const layer = image.layers[0];
  assert.ok(layer);
  const { status, body } = await rawGet(registry, faulted('on-blob_rate-16k', `blobs/${layer.digest}`));
  assert.equal(status, 200);
  assert.equal(sha256(body), layer.digest);
  const total = waits.reduce((sum, ms) => sum + ms, 0);
  assert.ok(Math.abs(total - (LAYER / 16384) * 1000) < 1, `waited ${total} ms for 64 KiB at 16 KiB/s`);
  assert.ok(waits.length >= 16, `in small pieces: ${waits.length} waits`);
});

test('stall-<d>_at-<size> stops after exactly that many bytes, for that long, then sends the rest', async (t) => {
  let release: () => void = () => undefined;
  const stalls: number[] = [];
  const clock: Clock = {
    now: () => new Date(),
    sleep: (ms) => {
      stalls.push(ms);
      return new Promise<void>((resolve) => (release = resolve));
    },
  };
  const { registry, image } = await setup(t, clock);
  const layer = image.layers[1];
  assert.ok(layer);
  let received = 0;
  const response = rawGet(registry, faulted('on-blob_stall-2s_at-10000', `blobs/${layer.digest}`), {}, (n) => (received = n));
  for (let i = 0; i < 500 && (stalls.length === 0 || received < 10000); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(stalls, [2000]);
  assert.equal(received, 10000, 'the client has the bytes before the stall, and no more');
  release();
  const { body } = await response;
  assert.equal(sha256(body), layer.digest);
});

test('drip-<size>_every-<d> sends pieces of that size with that pause between them', async (t) => {
  const { clock, waits } = virtualClock();
  const { registry, image } = await setup(t, clock);
  const layer = image.layers[0];
  assert.ok(layer);
  const { body } = await rawGet(registry, faulted('on-blob_drip-4k_every-250ms', `blobs/${layer.digest}`));
  assert.equal(sha256(body), layer.digest);
  assert.equal(waits.length, LAYER / 4096);
  assert.ok(waits.every((ms) => ms === 250));
  // at- moves the start of the drip.
  waits.length = 0;
  await rawGet(registry, faulted('on-blob_drip-4k_every-1s_at-32k', `blobs/${layer.digest}`));
  assert.equal(waits.length, (LAYER - 32768) / 4096);
});

test('close-<size|pct> ends the connection cleanly after that many bytes, Content-Length still the whole', async (t) => {
  const { registry, image } = await setup(t);
  const layer = image.layers[0];
  assert.ok(layer);
  const half = await socketGet(registry, faulted('on-blob_close-50pct_times-1', `blobs/${layer.digest}`));
  assert.match(half.head, /^HTTP\/1.1 200 /);
  assert.match(half.head, new RegExp(`\r\nContent-Length: ${LAYER}\r\n`));
  assert.equal(half.ending, 'eof', 'a clean close (FIN)');
  assert.deepEqual(half.body, layer.bytes.subarray(0, LAYER / 2));
  const whole = await rawGet(registry, faulted('on-blob_close-50pct_times-1', `blobs/${layer.digest}`));
  assert.equal(whole.error, undefined);
  assert.equal(sha256(whole.body), layer.digest, 'times-1: the retry gets it all');
  const bytes = await rawGet(registry, faulted('on-blob_close-1000', `blobs/${layer.digest}`));
  assert.equal(bytes.body.length, 1000);
});

test('reset-<size> sends a TCP reset after at most that many bytes', async (t) => {
  const { registry, image } = await setup(t);
  const layer = image.layers[0];
  assert.ok(layer);
  const cut = await socketGet(registry, faulted('on-blob_reset-2000_times-1', `blobs/${layer.digest}`));
  assert.equal(cut.ending, 'ECONNRESET');
  assert.ok(cut.body.length <= 2000, `${cut.body.length} bytes`);
  const whole = await rawGet(registry, faulted('on-blob_reset-2000_times-1', `blobs/${layer.digest}`));
  assert.equal(sha256(whole.body), layer.digest);
  const atOnce = await rawGet(registry, faulted('on-manifest_reset-0', 'manifests/v1'));
  assert.equal(atOnce.error, 'ECONNRESET');
});

test('corrupt-N changes N bytes, length unchanged, the same ones for the same seed; the store keeps the blob', async (t) => {
  const { registry, image } = await setup(t);
  const layer = image.layers[0];
  assert.ok(layer);
  const differing = (body: Buffer) => [...body].flatMap((byte, i) => (byte === layer.bytes[i] ? [] : [i]));
  const one = await rawGet(registry, faulted('on-blob_corrupt-3_seed-9', `blobs/${layer.digest}`));
  assert.equal(one.body.length, LAYER);
  assert.equal(one.headers['docker-content-digest'], layer.digest, 'the headers still name the real digest');
  const positions = differing(one.body);
  assert.equal(positions.length, 3);
  assert.deepEqual(differing((await rawGet(registry, faulted('on-blob_corrupt-3_seed-9', `blobs/${layer.digest}`))).body), positions);
  assert.notDeepEqual(differing((await rawGet(registry, faulted('on-blob_corrupt-3_seed-10', `blobs/${layer.digest}`))).body), positions);
  const manifest = await rawGet(registry, faulted('on-manifest_corrupt-1', 'manifests/v1'));
  assert.notEqual(sha256(manifest.body), image.manifest.digest);
  assert.equal(sha256((await rawGet(registry, `/v2/${INNER}/blobs/${layer.digest}`)).body), layer.digest);
  assert.equal(sha256((await rawGet(registry, `/v2/${INNER}/manifests/v1`)).body), image.manifest.digest);
});

test('header lies: digestheader-none|wrong, type-<...>, length-none (chunked)', async (t) => {
  const { registry, image } = await setup(t);
  const manifest = (rules: string) => rawGet(registry, faulted(rules, 'manifests/v1'));
  assert.equal((await manifest('on-manifest_digestheader-none')).headers['docker-content-digest'], undefined);
  const wrong = await manifest('on-manifest_digestheader-wrong');
  assert.match(String(wrong.headers['docker-content-digest']), /^sha256:[0-9a-f]{64}$/);
  assert.notEqual(wrong.headers['docker-content-digest'], image.manifest.digest);
  assert.equal(sha256(wrong.body), image.manifest.digest, 'the body is unchanged');
  assert.equal((await manifest('on-manifest_type-none')).headers['content-type'], undefined);
  assert.equal((await manifest('on-manifest_type-html')).headers['content-type'], 'text/html; charset=utf-8');
  assert.equal((await manifest('on-manifest_type-json')).headers['content-type'], 'application/json');
  assert.equal((await manifest('on-manifest_type-text')).headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal((await manifest('on-manifest_type-octet')).headers['content-type'], 'application/octet-stream');
  const layer = image.layers[0];
  assert.ok(layer);
  const chunked = await rawGet(registry, faulted('on-blob_length-none', `blobs/${layer.digest}`));
  assert.equal(chunked.headers['content-length'], undefined);
  assert.equal(chunked.headers['transfer-encoding'], 'chunked');
  assert.equal(sha256(chunked.body), layer.digest);
});

test('range-ignore|wrongstart|nocr|416 answer Range requests the ways broken registries do', async (t) => {
  const { registry, image } = await setup(t);
  const layer = image.layers[0];
  assert.ok(layer);
  const get = (mode: string, range: string) => rawGet(registry, faulted(`on-blob_range-${mode}`, `blobs/${layer.digest}`), { range });
  const ignored = await get('ignore', 'bytes=100-199');
  assert.equal(ignored.status, 200);
  assert.equal(sha256(ignored.body), layer.digest);
  const wrong = await get('wrongstart', 'bytes=100-199');
  assert.equal(wrong.status, 206);
  assert.equal(wrong.headers['content-range'], `bytes 100-199/${LAYER}`);
  assert.deepEqual(wrong.body, layer.bytes.subarray(0, 100));
  const nocr = await get('nocr', 'bytes=100-199');
  assert.equal(nocr.status, 206);
  assert.equal(nocr.headers['content-range'], undefined);
  assert.deepEqual(nocr.body, layer.bytes.subarray(100, 200));
  const open = await get('416', 'bytes=100-');
  assert.equal(open.status, 416);
  assert.equal(open.headers['content-range'], `bytes */${LAYER}`);
  const closed = await get('416', 'bytes=100-199');
  assert.equal(closed.status, 206);
  assert.deepEqual(closed.body, layer.bytes.subarray(100, 200));
  // Without a Range header the blob is served whole.
  assert.equal(sha256((await rawGet(registry, faulted('on-blob_range-416', `blobs/${layer.digest}`))).body), layer.digest);
});

test('digest-<prefix> selects one blob, and a manifest asked for by tag by the digest the tag resolves to', async (t) => {
  const { registry, image } = await setup(t);
  const [first, second] = image.layers;
  assert.ok(first && second);
  const prefix = first.digest.slice(7, 13);
  assert.equal(await statusOf(registry, faulted(`digest-${prefix}_status-500`, `blobs/${first.digest}`)), 500);
  assert.equal(await statusOf(registry, faulted(`digest-${prefix}_status-500`, `blobs/${second.digest}`)), 200);
  const manifest = image.manifest.digest.slice(7, 13);
  assert.equal(await statusOf(registry, faulted(`on-manifest_digest-${manifest}_status-500`, 'manifests/v1')), 500);
  assert.equal(await statusOf(registry, faulted(`on-manifest_digest-${manifest}_status-500`, `manifests/${image.manifest.digest}`)), 500);
  assert.equal(await statusOf(registry, faulted(`on-manifest_digest-${prefix}_status-500`, 'manifests/v1')), 200);
  const lie = await rawGet(registry, faulted(`on-manifest_digest-${manifest}_type-html`, 'manifests/v1'));
  assert.equal(lie.headers['content-type'], 'text/html; charset=utf-8');
});

test('prob-P_seed-Z fails the same requests on a fresh server', async (t) => {
  const pattern = async () => {
    const { registry } = await setup(t);
    const statuses = [];
    for (let i = 0; i < 20; i++) statuses.push(await statusOf(registry, faulted('on-manifest_prob-50_seed-1_status-500', 'manifests/v1')));
    return statuses;
  };
  const first = await pattern();
  assert.deepEqual(await pattern(), first);
  assert.ok(first.includes(500) && first.includes(200), first.join(' '));
});

async function startUpload(registry: TestRegistry, name: string): Promise<string> {
  const response = await call(registry, `/v2/${name}/blobs/uploads/`, { method: 'POST' });
  await response.arrayBuffer();
  assert.equal(response.status, 202);
  const location = response.headers.get('location') ?? '';
  assert.ok(location.startsWith(`/v2/${name}/blobs/uploads/`), `Location ${location} keeps the outer name`);
  return location;
}

async function uploadSize(registry: TestRegistry, location: string): Promise<string | null> {
  const response = await call(registry, location);
  await response.arrayBuffer();
  return response.headers.get('range');
}

test('upload status- on the Nth PATCH and on the final PUT is answered before anything is stored', async (t) => {
  const { registry } = await setup(t);
  const name = `broken/fault/on-upload_method-patch_after-1_times-1_status-500/${INNER}`;
  const blob = randomContent(3000, 77);
  const location = await startUpload(registry, name);
  const patch = (from: number, to: number) =>
    call(registry, location, { method: 'PATCH', body: blob.bytes.subarray(from, to), headers: { 'content-type': 'application/octet-stream', 'content-range': `${from}-${to - 1}` } });
  assert.equal((await patch(0, 1000)).status, 202);
  const failed = await patch(1000, 2000);
  await expectError(failed, 500, 'INTERNAL_SERVER_ERROR');
  assert.equal(await uploadSize(registry, location), '0-999', 'the failed PATCH appended nothing');
  assert.equal((await patch(1000, 3000)).status, 202);
  const put = `broken/fault/on-upload_method-put_status-503_times-1/${INNER}`;
  const finish = (await startUpload(registry, put)).replace(`/v2/${put}/`, `/v2/${put}/`);
  const send = () => call(registry, `${finish}?digest=${blob.digest}`, { method: 'PUT', body: blob.bytes, headers: { 'content-type': 'application/octet-stream' } });
  await expectError(await send(), 503, 'UNAVAILABLE');
  assert.equal(await statusOf(registry, `/v2/${INNER}/blobs/${blob.digest}`, { method: 'HEAD' }), 404, 'nothing stored');
  const done = await send();
  await done.arrayBuffer();
  assert.equal(done.status, 201);
  assert.equal(await statusOf(registry, `/v2/${INNER}/blobs/${blob.digest}`, { method: 'HEAD' }), 200);
});

/** A PATCH sent with node:http, resolving with its status or the socket error that ended it. */
function rawPatch(registry: TestRegistry, location: string, body: Buffer): Promise<number | string> {
  return new Promise((resolve) => {
    const request = http.request(
      { host: '127.0.0.1', port: registry.port, method: 'PATCH', path: location, agent: false, headers: { 'content-type': 'application/octet-stream', 'content-length': body.length }, signal: AbortSignal.timeout(10_000) },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    request.end(body);
  });
}

test('upload reset-<size> resets the connection after that many request-body bytes; the session keeps nothing of it', async (t) => {
  const { registry } = await setup(t);
  const name = `broken/fault/on-upload_method-patch_reset-64k_times-1/${INNER}`;
  const location = await startUpload(registry, name);
  const blob = randomContent(1024 * 1024, 78);
  assert.match(String(await rawPatch(registry, location, blob.bytes)), /^(ECONNRESET|EPIPE)$/);
  assert.equal(await uploadSize(registry, location), '0-0');
  assert.equal(await rawPatch(registry, location, blob.bytes), 202, 'times-1: the next PATCH goes through');
  assert.equal(await uploadSize(registry, location), `0-${blob.size - 1}`);
});

test('upload rate- reads the request body at that many bytes per second', async (t) => {
  const { clock, waits } = virtualClock();
  const { registry } = await setup(t, clock);
  const name = `broken/fault/on-upload_rate-64k/${INNER}`;
  const location = await startUpload(registry, name);
  const blob = randomContent(256 * 1024, 79);
  waits.length = 0;
  assert.equal(await rawPatch(registry, location, blob.bytes), 202);
  const total = waits.reduce((sum, ms) => sum + ms, 0);
  assert.ok(Math.abs(total - 4000) < 1, `waited ${total} ms for 256 KiB at 64 KiB/s`);
  assert.equal(await uploadSize(registry, location), `0-${blob.size - 1}`);
});

test('pushes through a fault name store into the inner repository; nested faults apply outer then inner', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage({ layerCount: 1, layerSize: 1000, seed: 8 });
  await pushImage(registry, `broken/fault/on-tags_status-500/${INNER}`, 'v2', image);
  assert.equal(sha256((await rawGet(registry, `/v2/${INNER}/manifests/v2`)).body), image.manifest.digest);
  assert.equal(await statusOf(registry, `/v2/broken/fault/on-tags_status-500/${INNER}/tags/list`), 500);
  const nested = await rawGet(registry, `/v2/broken/fault/on-manifest_type-html/broken/fault/on-manifest_digestheader-none/${INNER}/manifests/v2`);
  assert.equal(nested.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(nested.headers['docker-content-digest'], undefined);
  assert.equal(sha256(nested.body), image.manifest.digest);
  const log = registry.logs.find((entry) => entry.path.includes('on-manifest_type-html'));
  assert.equal(log?.scenario, 'fault>fault>prepared');
  // Each fault tells the request's log entry what it did, the inner one too.
  assert.deepEqual(log?.applied, [
    'fault on-manifest_type-html: matching request 1, failed',
    'fault on-manifest_digestheader-none: matching request 1, failed',
  ]);
});

test('through the proxy, a corrupted or cut blob leaves the cache intact', async (t) => {
  const upstream = await startRegistry(t);
  const image = ociImage({ layerCount: 1, layerSize: LAYER, seed: 11 });
  await pushImage(upstream, 'broken/prepared/team/app', 'v1', image);
  const proxy = resolveProxyOptions({ upstream: `${upstream.host}/broken/prepared`, allowUpstream: [upstream.host], upstreamInsecure: [upstream.host] });
  const registry = await startRegistry(t, { config: { proxy } });
  const layer = image.layers[0];
  assert.ok(layer);
  const corrupted = await rawGet(registry, `/v2/broken/fault/on-blob_corrupt-5/team/app/blobs/${layer.digest}`);
  assert.equal(corrupted.status, 200);
  assert.equal(corrupted.body.length, LAYER);
  assert.notEqual(sha256(corrupted.body), layer.digest);
  const cut = await socketGet(registry, `/v2/broken/fault/on-blob_close-50pct/team/app/blobs/${image.config.digest}`);
  assert.ok(cut.body.length < image.config.size);
  await upstream.stop();
  // The upstream is gone: what the proxy answers now comes from its cache, and is whole or nothing.
  const cached = await rawGet(registry, `/v2/team/app/blobs/${layer.digest}`);
  assert.equal(cached.status, 200);
  assert.equal(sha256(cached.body), layer.digest);
  const config = await rawGet(registry, `/v2/team/app/blobs/${image.config.digest}`);
  if (config.status === 200) assert.equal(sha256(config.body), image.config.digest);
  else assert.ok(config.status >= 400 && config.error === undefined, `status ${config.status}`);
});
