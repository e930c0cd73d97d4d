import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startRegistry } from './helpers/registry.js';

/** A raw request: fetch refuses some statuses (407) client-side, and this test wants them all. */
function raw(url: string, method: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method, timeout: 5000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
    request.end();
  });
}

async function get(url: string, method = 'GET') {
  const response = await fetch(url, { method, signal: AbortSignal.timeout(5000) });
  const text = await response.text();
  return { response, body: text ? (JSON.parse(text) as { errors: { code: string; message: string }[] }) : undefined };
}

test('the seed five answer their exact codes and messages', async (t) => {
  const registry = await startRegistry(t);
  const seed = [
    [400, 'MANIFEST_INVALID', 'Eww! That request looks bad, very bad... just awful.'],
    [403, 'FORBIDDEN', 'Fakereg: Access to this resource is forbidden'],
    [404, 'MANIFEST_UNKNOWN', 'Looking for something?'],
    [405, 'UNAUTHORIZED', 'Method not allowed'],
    [500, 'INTERNAL_SERVER_ERROR', 'Working as intended... probably...'],
  ] as const;
  for (const [status, code, message] of seed) {
    const { response, body } = await get(`${registry.url}/v2/broken/error/manifests/${status}`);
    assert.equal(response.status, status);
    assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.deepEqual(body?.errors[0]?.code, code);
    assert.equal(body?.errors[0]?.message, message);
  }
  assert.equal(registry.logs.at(-1)?.scenario, 'error');
});

test('every status 400-599 is answered, HEAD too, with protocol headers', async (t) => {
  const registry = await startRegistry(t);
  for (let status = 400; status <= 599; status++) {
    const response = await raw(`${registry.url}/v2/broken/error/manifests/${status}`, 'GET');
    assert.equal(response.status, status, `status ${status}`);
    const body = JSON.parse(response.body) as { errors: { code: string }[] };
    assert.match(body.errors[0]?.code ?? '', /^[A-Z][A-Z0-9_]+$/, `code for ${status}`);
    const head = await raw(`${registry.url}/v2/broken/error/manifests/${status}`, 'HEAD');
    assert.equal(head.status, status);
    assert.equal(head.body, '');
  }
  const unauthorized = await get(`${registry.url}/v2/broken/error/manifests/401`);
  assert.match(unauthorized.response.headers.get('www-authenticate') ?? '', /^Bearer realm="[^"]+",service="[^"]+",scope="repository:broken\/error:pull"$/);
  assert.equal(unauthorized.body?.errors[0]?.code, 'UNAUTHORIZED');
  for (const status of [429, 503]) {
    const { response, body } = await get(`${registry.url}/v2/broken/error/manifests/${status}`);
    assert.equal(response.headers.get('retry-after'), '1');
    assert.equal(body?.errors[0]?.code, status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE');
  }
  assert.equal((await get(`${registry.url}/v2/broken/error/manifests/418`)).body?.errors[0]?.code, 'I_M_A_TEAPOT');
});

test('anything else as the tag answers 501 NOT_IMPLEMENTED "Huh?"', async (t) => {
  const registry = await startRegistry(t);
  for (const tag of ['latest', '200', '600', '4044', 'abc']) {
    const { response, body } = await get(`${registry.url}/v2/broken/error/manifests/${tag}`);
    assert.equal(response.status, 501, tag);
    assert.deepEqual(body?.errors[0], { code: 'NOT_IMPLEMENTED', message: 'Huh?', detail: { tag } });
  }
});

test('blob requests under broken/error/<status> answer that status; pushes are denied', async (t) => {
  const registry = await startRegistry(t);
  const digest = `sha256:${'a'.repeat(64)}`;
  const nested = await get(`${registry.url}/v2/broken/error/503/blobs/${digest}`);
  assert.equal(nested.response.status, 503);
  assert.equal((await get(`${registry.url}/v2/broken/error/404/manifests/latest`)).response.status, 404);
  const plain = await get(`${registry.url}/v2/broken/error/blobs/${digest}`);
  assert.equal(plain.body?.errors[0]?.code, 'BLOB_UNKNOWN');
  const push = await fetch(`${registry.url}/v2/broken/error/blobs/uploads/`, { method: 'POST', signal: AbortSignal.timeout(5000) });
  assert.equal(push.status, 403);
  const pushBody = (await push.json()) as { errors: { code: string; message: string }[] };
  assert.equal(pushBody.errors[0]?.code, 'DENIED');
  assert.match(pushBody.errors[0]?.message ?? '', /broken\/prepared/);
});
