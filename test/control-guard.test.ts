// The control plane's guard: loopback clients by default; with --admin-allow naming only 127.0.0.1,
// a client on 127.0.0.2 stands for a remote one: refused without --admin-token, admitted with it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startRegistry } from './helpers/registry.js';
import { TIMEOUT_MS } from './helpers/journal.js';

const TOKEN = 'admin-token-for-tests';

/** A GET from a chosen local address (node:http, which can bind one). */
function getFrom(localAddress: string, url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress, headers, agent: false, timeout: TIMEOUT_MS }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

test('by default every loopback address is admitted', async (t) => {
  const registry = await startRegistry(t);
  assert.equal((await getFrom('127.0.0.2', `${registry.url}/_broken/journal`)).status, 200);
});

test('a client outside --admin-allow is refused (403) when there is no token; the registry still serves it', async (t) => {
  const registry = await startRegistry(t, { config: { adminAllow: ['127.0.0.1'] } });
  const refused = await getFrom('127.0.0.2', `${registry.url}/_broken/journal`);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.errors[0].code, 'FORBIDDEN');
  assert.match(refused.body.errors[0].message, /answers 127\.0\.0\.1 only; start serve with --admin-token/);
  assert.equal((await getFrom('127.0.0.2', `${registry.url}/_broken/rules`, { Authorization: 'Bearer anything' })).status, 403);
  assert.equal((await getFrom('127.0.0.2', `${registry.url}/v2/`)).status, 200);
  assert.equal((await getFrom('127.0.0.1', `${registry.url}/_broken/journal`)).status, 200);
});

test('with --admin-token, a client outside --admin-allow needs the bearer token', async (t) => {
  const registry = await startRegistry(t, { config: { adminAllow: ['127.0.0.1'], adminToken: TOKEN } });
  const none = await getFrom('127.0.0.2', `${registry.url}/_broken/journal`);
  assert.equal(none.status, 401);
  assert.equal(none.body.errors[0].code, 'UNAUTHORIZED');
  assert.match(String(none.headers['www-authenticate']), /^Bearer /);
  for (const header of [`Bearer ${TOKEN}x`, `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}`, 'Bearer']) {
    assert.equal((await getFrom('127.0.0.2', `${registry.url}/_broken/journal`, { Authorization: header })).status, 401, header);
  }
  const admitted = await getFrom('127.0.0.2', `${registry.url}/_broken/journal`, { Authorization: `Bearer ${TOKEN}` });
  assert.equal(admitted.status, 200);
  // The refused attempts are journaled like any request (as control requests, in the log only); the token is not.
  assert.ok(registry.logs.every((entry) => !JSON.stringify(entry).includes(TOKEN)));
  assert.ok(registry.logs.some((entry) => entry.status === 401 && entry.auth === 'Bearer' && entry.client === '127.0.0.2'));
});
