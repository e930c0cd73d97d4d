// Errors over real HTTP: every code the core produces with its status and envelope, unknown routes,
// wrong methods, the name/tag/digest grammar, path traversal, and bytes that are not HTTP at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { ERROR_CODES, type ErrorCode } from '../src/oci/errors.js';
import { makeTempDir, startRegistry, type TestRegistry } from './helpers/registry.js';
import {
  OCI_MANIFEST,
  REPO,
  call,
  content,
  expectError,
  listFiles,
  ociImage,
  pushBlob,
  pushImage,
  rawErrorCode,
  rawRequest,
  sha256,
  type CallInit,
} from './helpers/oci-http.js';

interface ErrorCase {
  code: ErrorCode;
  /** Sets up what the request needs and returns it. */
  request(registry: TestRegistry): Promise<[string, CallInit?]>;
  headers?: Record<string, string>;
}

const startSession = async (registry: TestRegistry): Promise<string> => {
  const response = await call(registry, `/v2/${REPO}/blobs/uploads/`, { method: 'POST' });
  await response.arrayBuffer();
  return response.headers.get('location') ?? assert.fail('no Location');
};

const CASES: ErrorCase[] = [
  { code: 'BLOB_UNKNOWN', request: async () => [`/v2/${REPO}/blobs/${sha256('absent')}`] },
  { code: 'BLOB_UPLOAD_UNKNOWN', request: async () => [`/v2/${REPO}/blobs/uploads/00000000-0000-4000-8000-000000000000`] },
  { code: 'DIGEST_INVALID', request: async () => [`/v2/${REPO}/blobs/sha256:nothex`] },
  { code: 'MANIFEST_INVALID', request: async () => [`/v2/${REPO}/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: '' }] },
  { code: 'MANIFEST_UNKNOWN', request: async () => [`/v2/${REPO}/manifests/absent`] },
  { code: 'NAME_INVALID', request: async () => ['/v2/Broken/Prepared/manifests/v1'] },
  {
    code: 'NAME_UNKNOWN',
    request: async (registry) => {
      await pushImage(registry, `${REPO}/known`, 'v1', ociImage());
      return [`/v2/${REPO}/unknown/tags/list`];
    },
  },
  { code: 'DENIED', request: async () => ['/v2/broken/error/blobs/uploads/', { method: 'POST' }] },
  { code: 'UNSUPPORTED', request: async () => ['/v2/', { method: 'DELETE' }], headers: { allow: 'GET, HEAD' } },
  { code: 'TAG_INVALID', request: async () => [`/v2/${REPO}/manifests/-leading-dash`, { method: 'PUT', body: '{}' }] },
  { code: 'PAGINATION_NUMBER_INVALID', request: async () => ['/v2/_catalog?n=-1'] },
  {
    code: 'RANGE_INVALID',
    request: async (registry) => {
      const blob = content('ten bytes!');
      await pushBlob(registry, REPO, blob);
      return [`/v2/${REPO}/blobs/${blob.digest}`, { headers: { Range: 'bytes=10-' } }];
    },
    headers: { 'content-range': 'bytes */10' },
  },
  {
    code: 'RANGE_INVALID',
    request: async (registry) => [await startSession(registry), { method: 'PATCH', headers: { 'Content-Range': '5-9' }, body: 'hello' }],
    headers: { range: '0-0' },
  },
  {
    code: 'TOO_LARGE',
    request: async () => [
      `/v2/${REPO}/manifests/huge`,
      { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: Buffer.alloc(4 * 1024 * 1024 + 1, 0x20) },
    ],
  },
  { code: 'NOT_FOUND', request: async () => ['/v3/'] },
];

for (const [index, errorCase] of CASES.entries()) {
  const { code } = errorCase;
  const { status } = ERROR_CODES[code];
  test(`${code} answers ${status} in the OCI envelope (case ${index + 1})`, async (t) => {
    const registry = await startRegistry(t);
    const [requestPath, init] = await errorCase.request(registry);
    const response = await call(registry, requestPath, init);
    for (const [name, value] of Object.entries(errorCase.headers ?? {})) {
      assert.equal(response.headers.get(name), value, name);
    }
    const error = await expectError(response, status, code);
    assert.equal(typeof error.detail, 'object', 'detail is a JSON value (an object here)');
  });
}

test('unknown routes answer 404 NOT_FOUND in the envelope', async (t) => {
  const registry = await startRegistry(t);
  const paths = [
    '/',
    '/v1/',
    '/v2x',
    '/favicon.ico',
    `/v2/${REPO}`,
    `/v2/${REPO}/`,
    `/v2/${REPO}/manifests/`,
    `/v2/${REPO}/blobs/`,
    `/v2/${REPO}/tags`,
    `/v2/${REPO}/unknown-endpoint/x`,
    `/v2/${REPO}/manifests/a/b`,
  ];
  for (const requestPath of paths) {
    const response = await rawRequest(registry, 'GET', requestPath);
    assert.equal(response.status, 404, requestPath);
    assert.equal(response.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(rawErrorCode(response), 'NOT_FOUND', requestPath);
  }
  // Request targets that are not origin-form paths at all.
  for (const [method, target] of [
    ['OPTIONS', '*'],
    ['GET', 'http://example.com/v2/'],
    ['GET', `http://example.com/v2/${REPO}/manifests/latest`],
  ] as const) {
    const response = await rawRequest(registry, method, target);
    assert.equal(response.status, 404, `${method} ${target}`);
    assert.equal(rawErrorCode(response), 'NOT_FOUND', `${method} ${target}`);
  }
});

test('methods a route does not offer answer 405 UNSUPPORTED with Allow', async (t) => {
  const registry = await startRegistry(t);
  const digest = sha256('x');
  const cases: [string, string, string][] = [
    ['POST', '/v2/', 'GET, HEAD'],
    ['PUT', '/v2/_catalog', 'GET, HEAD'],
    ['DELETE', `/v2/${REPO}/tags/list`, 'GET, HEAD'],
    ['POST', `/v2/${REPO}/manifests/v1`, 'GET, HEAD, PUT, DELETE'],
    ['PATCH', `/v2/${REPO}/manifests/v1`, 'GET, HEAD, PUT, DELETE'],
    ['PUT', `/v2/${REPO}/blobs/${digest}`, 'GET, HEAD, DELETE'],
    ['GET', `/v2/${REPO}/blobs/uploads/`, 'POST'],
    ['POST', `/v2/${REPO}/blobs/uploads/00000000-0000-4000-8000-000000000000`, 'GET, PATCH, PUT, DELETE'],
    ['DELETE', `/v2/${REPO}/referrers/${digest}`, 'GET, HEAD'],
  ];
  for (const [method, requestPath, allow] of cases) {
    const response = await call(registry, requestPath, { method });
    assert.equal(response.headers.get('allow'), allow, `${method} ${requestPath}`);
    await expectError(response, 405, 'UNSUPPORTED');
  }
});

test('invalid repository names are NAME_INVALID, whatever the endpoint', async (t) => {
  const registry = await startRegistry(t);
  const names = [
    'Broken/Prepared',
    'broken/prepared/UPPER',
    'broken/prepared/..',
    'broken/prepared/../prepared',
    'broken/prepared/.',
    'broken/prepared/%2e%2e',
    'broken/prepared/%2E%2E/x',
    'broken%2fprepared',
    'broken/prepared%2f..%2f..',
    'broken//prepared',
    'broken/prepared/-dash',
    'broken/prepared/trailing_',
    'broken/prepared/a..b',
    'broken/prepared/sp%20ace',
    `broken/prepared/${'a'.repeat(300)}`,
    `broken/prepared/${Array.from({ length: 130 }, () => 'a').join('/')}`,
  ];
  for (const name of names) {
    for (const [method, suffix] of [
      ['GET', 'manifests/latest'],
      ['PUT', 'manifests/latest'],
      ['GET', `blobs/${sha256('x')}`],
      ['POST', 'blobs/uploads/'],
      ['GET', 'tags/list'],
      ['GET', `referrers/${sha256('x')}`],
    ] as const) {
      const response = await rawRequest(registry, method, `/v2/${name}/${suffix}`, { body: method === 'PUT' ? '{}' : undefined });
      assert.equal(response.status, 400, `${method} ${name.slice(0, 60)}/${suffix}: ${response.body.toString().slice(0, 200)}`);
      assert.equal(rawErrorCode(response), 'NAME_INVALID', `${method} ${name.slice(0, 60)}/${suffix}`);
    }
  }
});

test('invalid tags are TAG_INVALID to write, and name no manifest to read (404 MANIFEST_UNKNOWN, as distribution)', async (t) => {
  const registry = await startRegistry(t);
  const tags = ['-dash', '.dot', '.INVALID_MANIFEST_NAME', '..', '%2e%2e', 'a'.repeat(129), 'bad!tag', 'sp%20ace', 'x%2fy'];
  for (const tag of tags) {
    for (const method of ['PUT', 'DELETE']) {
      const response = await rawRequest(registry, method, `/v2/${REPO}/manifests/${tag}`, { body: method === 'PUT' ? '{}' : undefined });
      assert.equal(response.status, 400, `${method} ${tag}`);
      assert.equal(rawErrorCode(response), 'TAG_INVALID', `${method} ${tag}`);
    }
    for (const method of ['GET', 'HEAD']) {
      const response = await rawRequest(registry, method, `/v2/${REPO}/manifests/${tag}`);
      assert.equal(response.status, 404, `${method} ${tag}`);
      if (method === 'GET') assert.equal(rawErrorCode(response), 'MANIFEST_UNKNOWN', `${method} ${tag}`);
    }
  }
  // The longest valid tag is fine.
  const longest = 'a'.repeat(128);
  await pushImage(registry, REPO, longest, ociImage());
  assert.equal((await call(registry, `/v2/${REPO}/manifests/${longest}`)).status, 200);
});

test('invalid digests are DIGEST_INVALID on every endpoint that takes one (a manifest GET names nothing: 404)', async (t) => {
  const registry = await startRegistry(t);
  const hex = 'a'.repeat(64);
  const digests = [
    'sha256:short',
    `sha256:${hex.toUpperCase()}`,
    `sha256:${'g'.repeat(64)}`,
    `sha256:${hex}0`,
    `md5:${'a'.repeat(32)}`,
    `sha512:${hex}`,
    'sha256:',
    ':abc',
    'sha256:..%2f..%2f..',
  ];
  const location = await startSession(registry);
  for (const digest of digests) {
    const requests: [string, string][] = [
      ['GET', `/v2/${REPO}/blobs/${digest}`],
      ['DELETE', `/v2/${REPO}/blobs/${digest}`],
      ['PUT', `/v2/${REPO}/manifests/${digest}`],
      ['DELETE', `/v2/${REPO}/manifests/${digest}`],
      ['GET', `/v2/${REPO}/referrers/${digest}`],
      ['POST', `/v2/${REPO}/blobs/uploads/?digest=${digest}`],
      ['PUT', `${location}?digest=${digest}`],
    ];
    for (const [method, requestPath] of requests) {
      const response = await rawRequest(registry, method, requestPath, { body: method === 'PUT' || method === 'POST' ? '{}' : undefined });
      assert.equal(response.status, 400, `${method} ${requestPath}: ${response.body.toString().slice(0, 200)}`);
      assert.equal(rawErrorCode(response), 'DIGEST_INVALID', `${method} ${requestPath}`);
    }
    const read = await rawRequest(registry, 'GET', `/v2/${REPO}/manifests/${digest}`);
    assert.equal(read.status, 404, `GET manifest ${digest}`);
    assert.equal(rawErrorCode(read), 'MANIFEST_UNKNOWN', `GET manifest ${digest}`);
  }
  // The session survived every refused PUT.
  assert.equal((await call(registry, location)).status, 204);
});

test('path traversal in names, tags, digests and upload ids never touches anything outside the store', async (t) => {
  const parent = await makeTempDir(t, 'broken-reg-traversal-');
  const storeDir = path.join(parent, 'store');
  const sentinel = path.join(parent, 'sentinel.txt');
  await fs.writeFile(sentinel, 'do not touch');
  await fs.mkdir(path.join(parent, '_tags'));
  const sentinelStat = await fs.stat(sentinel);
  const registry = await startRegistry(t, { storeDir });
  const image = ociImage({ seed: 80 });
  await pushImage(registry, REPO, 'v1', image);
  const outside = async () => (await listFiles(parent)).filter((file) => !file.startsWith(`store${path.sep}`));
  const outsideBefore = await outside();
  assert.deepEqual(outsideBefore, ['sentinel.txt']);
  const besideBefore = (await fs.readdir(parent)).sort();

  const up = ['..', '%2e%2e', '.%2E', '..%2f..', '..%5c..', '..;'];
  const targets: string[] = [];
  for (const dots of up) {
    const escape = Array.from({ length: 6 }, () => dots).join('/');
    targets.push(
      `/v2/${REPO}/${escape}/sentinel.txt/manifests/v1`,
      `/v2/${escape}/sentinel.txt/manifests/v1`,
      `/v2/${REPO}/manifests/${dots}`,
      `/v2/${REPO}/manifests/${escape}/sentinel.txt`,
      `/v2/${REPO}/blobs/${dots}`,
      `/v2/${REPO}/blobs/sha256:${escape}`,
      `/v2/${REPO}/blobs/sha256:${dots}%2f${dots}%2fsentinel.txt`,
      `/v2/${REPO}/blobs/uploads/${dots}`,
      `/v2/${REPO}/blobs/uploads/${dots}%2f${dots}%2f${dots}%2fsentinel.txt`,
      `/v2/${REPO}/blobs/uploads/${escape}/sentinel.txt`,
      `/v2/${REPO}/referrers/sha256:${escape}`,
      `/v2/${REPO}/${escape}/tags/list`,
      `/v2/${REPO}/blobs/uploads/?digest=sha256:${dots}%2f${dots}%2fsentinel.txt`,
      `/v2/${REPO}/blobs/uploads/?mount=${image.config.digest}&from=${dots}%2f${dots}%2f${dots}`,
      `/v2/${REPO}/tags/list?last=${escape}&n=1`,
    );
  }
  targets.push(
    `/v2/${REPO}/manifests/${image.manifest.digest.replace('sha256:', 'sha256:..%2f')}`,
    `/v2/${REPO}/manifests/_tags`,
    `/v2/${REPO}/_tags/manifests/v1`,
    `/v2/${REPO}/_manifests/tags/list`,
  );
  for (const target of targets) {
    // Reads, writes and deletes everywhere; the upload verbs where an upload route could match.
    const methods = ['GET', 'PUT', 'DELETE', ...(target.includes('/uploads') ? ['PATCH', 'POST'] : [])];
    for (const method of methods) {
      const response = await rawRequest(registry, method, target, {
        headers: { 'Content-Type': OCI_MANIFEST },
        body: method === 'PUT' || method === 'PATCH' || method === 'POST' ? image.manifest.bytes : undefined,
      });
      assert.ok(response.status < 500, `${method} ${target} answered ${response.status}: ${response.body.toString().slice(0, 200)}`);
    }
  }
  assert.equal(await fs.readFile(sentinel, 'utf8'), 'do not touch');
  const after = await fs.stat(sentinel);
  assert.equal(after.mtimeMs, sentinelStat.mtimeMs);
  assert.deepEqual(await outside(), outsideBefore, 'no file appeared outside the store');
  assert.deepEqual((await fs.readdir(parent)).sort(), besideBefore, 'no directory appeared beside the store');
  assert.deepEqual(await fs.readdir(path.join(parent, '_tags')), []);
  // And what was in the store is intact.
  const manifest = await call(registry, `/v2/${REPO}/manifests/v1`);
  assert.equal(manifest.status, 200);
  assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest.bytes);
});

/** Sends bytes on a raw socket and collects whatever comes back until the server closes it. */
async function sendRaw(registry: TestRegistry, bytes: Buffer): Promise<string> {
  const socket = net.connect(registry.port, '127.0.0.1');
  socket.setTimeout(5_000);
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('timeout', () => {
      socket.destroy();
      reject(new Error('the server neither answered nor closed the socket'));
    });
    // A reset after the 400 is as good as a close.
    socket.on('error', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

/** A TLS 1.2/1.3 ClientHello, as a client that thinks the port speaks HTTPS sends first. */
function clientHello(): Buffer {
  const random = Buffer.alloc(32, 7);
  const ciphers = Buffer.from([0x00, 0x04, 0x13, 0x01, 0xc0, 0x2f]);
  const sni = Buffer.from('localhost');
  const serverName = Buffer.concat([Buffer.from([0x00, 0x00]), u16(sni.length + 5), u16(sni.length + 3), Buffer.from([0x00]), u16(sni.length), sni]);
  const extensions = Buffer.concat([u16(serverName.length), serverName]);
  const body = Buffer.concat([Buffer.from([0x03, 0x03]), random, Buffer.from([0x00]), ciphers, Buffer.from([0x01, 0x00]), extensions]);
  const handshake = Buffer.concat([Buffer.from([0x01, 0x00]), u16(body.length), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(handshake.length), handshake]);
}

function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
}

test('a TLS ClientHello or garbage on the plain port gets a 400 or a closed socket, and the server keeps serving', async (t) => {
  const registry = await startRegistry(t);
  const inputs: [string, Buffer][] = [
    ['TLS ClientHello', clientHello()],
    ['random bytes', Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 197 + 13) % 256))],
    ['NUL bytes', Buffer.alloc(64)],
    ['a broken request line', Buffer.from('GET\r\n\r\n')],
    ['a bad header', Buffer.from('GET /v2/ HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')],
    ['a bad Content-Length', Buffer.from('PUT /v2/broken/prepared/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n')],
    ['two Content-Lengths', Buffer.from('PUT /v2/broken/prepared/manifests/v1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab')],
    ['a huge header', Buffer.from(`GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`)],
  ];
  for (const [what, bytes] of inputs) {
    const answer = await sendRaw(registry, bytes);
    assert.ok(answer === '' || /^HTTP\/1\.1 4\d\d /.test(answer), `${what}: ${answer.slice(0, 100)}`);
    const alive = await call(registry, '/v2/');
    assert.equal(alive.status, 200, `still serving after ${what}`);
    await alive.arrayBuffer();
  }
});
