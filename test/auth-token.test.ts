// serve --auth token: the built-in token service at /token (GET and POST, refresh tokens), the check in
// front of every /v2/ request, and what it refuses. All over real HTTP on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeTempDir } from './helpers/registry.js';
import { expectError, ociImage, OCI_MANIFEST } from './helpers/oci-http.js';
import { manualClock } from './helpers/proxy.js';
import { basic, bearer, callAs, challengeOf, getToken, postToken, pushImageAs, startAuthRegistry, USERS } from './helpers/auth.js';
import { formatJson, formatText } from '../src/server/log.js';

const NAME = 'broken/prepared/auth/app';
const PULL = `repository:${NAME}:pull`;
const PUSH = `repository:${NAME}:pull,push`;
const alice = basic('alice', USERS.alice);

test('token: /v2/ challenges with a realm on this server that answers, with the request\'s host', async (t) => {
  const registry = await startAuthRegistry(t, {});
  const ping = await callAs(registry, undefined, '/v2/');
  await expectError(ping, 401, 'UNAUTHORIZED');
  const challenge = challengeOf(ping);
  assert.equal(challenge.scheme, 'bearer');
  assert.equal(challenge.params.realm, `${registry.url}/token`);
  assert.equal(challenge.params.service, 'broken-reg');
  assert.equal(challenge.params.scope, undefined, '/v2/ needs no scope');
  // The realm follows the Host the client used (localhost rather than 127.0.0.1).
  const viaName = await fetch(`http://localhost:${registry.port}/v2/`, { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
  if (viaName) assert.equal(challengeOf(viaName).params.realm, `http://localhost:${registry.port}/token`);

  const manifest = challengeOf(await callAs(registry, undefined, `/v2/${NAME}/manifests/v1`));
  assert.equal(manifest.params.scope, PULL);
  const upload = challengeOf(await callAs(registry, undefined, `/v2/${NAME}/blobs/uploads/`, { method: 'POST' }));
  assert.equal(upload.params.scope, PUSH);

  const anonymous = await getToken(challenge.params.realm ?? '', { service: 'broken-reg', scope: [PULL] });
  assert.equal(anonymous.status, 200);
  assert.equal(anonymous.body.token, anonymous.body.access_token, 'token and access_token, as distribution answers');
  assert.equal(anonymous.body.expires_in, 300);
  assert.ok(Math.abs(Date.parse(String(anonymous.body.issued_at)) - Date.now()) < 60_000, 'issued_at is now');
  const claims = JSON.parse(Buffer.from(anonymous.token.split('.')[1] ?? '', 'base64url').toString()) as { access: unknown; aud: string };
  assert.deepEqual(claims.access, [{ type: 'repository', name: NAME, actions: ['pull'] }], 'the token carries the granted scope');
  assert.equal(claims.aud, 'broken-reg');
  const base = await callAs(registry, bearer(anonymous.token), '/v2/');
  assert.equal(base.status, 200);
});

test('token: a user pushes with a GET token, anonymous clients pull, and a pull-only token pushing gets insufficient_scope', async (t) => {
  const registry = await startAuthRegistry(t, {});
  const realm = `${registry.url}/token`;
  const image = ociImage({ seed: 3 });
  const pushing = await getToken(realm, { service: 'broken-reg', scope: [PUSH] }, alice);
  assert.equal(pushing.status, 200);
  await pushImageAs(registry, bearer(pushing.token), NAME, 'v1', image);

  const anonymous = await getToken(realm, { service: 'broken-reg', scope: [PUSH] });
  const claims = JSON.parse(Buffer.from(anonymous.token.split('.')[1] ?? '', 'base64url').toString()) as { access: unknown };
  assert.deepEqual(claims.access, [{ type: 'repository', name: NAME, actions: ['pull'] }], 'anonymous clients get pull only');
  const pulled = await callAs(registry, bearer(anonymous.token), `/v2/${NAME}/manifests/v1`, { headers: { Accept: OCI_MANIFEST } });
  assert.equal(pulled.status, 200);
  assert.deepEqual(Buffer.from(await pulled.arrayBuffer()), image.manifest.bytes);
  const blob = await callAs(registry, bearer(anonymous.token), `/v2/${NAME}/blobs/${image.layers[0]?.digest}`);
  assert.equal(blob.status, 200);
  await blob.arrayBuffer();

  const push = await callAs(registry, bearer(anonymous.token), `/v2/${NAME}/blobs/uploads/`, { method: 'POST' });
  const error = await expectError(push, 401, 'UNAUTHORIZED');
  assert.deepEqual(error.detail, [{ Type: 'repository', Name: NAME, Action: 'pull,push' }]);
  const challenge = challengeOf(push);
  assert.equal(challenge.params.error, 'insufficient_scope');
  assert.equal(challenge.params.scope, PUSH);
  const put = await callAs(registry, bearer(anonymous.token), `/v2/${NAME}/manifests/v2`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: new Uint8Array(image.manifest.bytes) });
  assert.equal(challengeOf(put).params.error, 'insufficient_scope');
  await put.arrayBuffer();
  // Nothing was written by the refused requests.
  assert.equal((await callAs(registry, bearer(pushing.token), `/v2/${NAME}/manifests/v2`)).status, 404);
});

test('token: POST with the password grant, offline refresh tokens traded with grant_type=refresh_token', async (t) => {
  const registry = await startAuthRegistry(t, {});
  const realm = `${registry.url}/token`;
  const password = await postToken(realm, { grant_type: 'password', username: 'bob', password: USERS.bob, service: 'broken-reg', scope: PUSH, client_id: 'test', access_type: 'offline' });
  assert.equal(password.status, 200);
  assert.equal(password.body.scope, PUSH);
  assert.equal(typeof password.body.refresh_token, 'string');
  assert.equal(password.body.expires_in, 300);
  await pushImageAs(registry, bearer(password.token), NAME, 'v1', ociImage({ seed: 4 }));

  const refreshed = await postToken(realm, { grant_type: 'refresh_token', refresh_token: String(password.body.refresh_token), service: 'broken-reg', scope: PULL, client_id: 'test' });
  assert.equal(refreshed.status, 200);
  assert.equal((await callAs(registry, bearer(refreshed.token), `/v2/${NAME}/manifests/v1`)).status, 200);
  // A GET with offline_token=true and credentials hands out a refresh token too (docker login does this).
  const offline = await getToken(realm, { service: 'broken-reg', scope: [PULL], offline: true }, alice);
  assert.equal(typeof offline.body.refresh_token, 'string');
  // An access token is no refresh token, and a wrong password gets no token at all.
  const swapped = await postToken(realm, { grant_type: 'refresh_token', refresh_token: password.token, service: 'broken-reg', scope: PULL });
  assert.equal(swapped.status, 401);
  assert.equal(swapped.body.error, 'invalid_grant');
  const wrong = await postToken(realm, { grant_type: 'password', username: 'bob', password: 'nope', service: 'broken-reg', scope: PULL });
  assert.equal(wrong.status, 401);
  assert.equal((await getToken(realm, { scope: [PULL] }, basic('alice', 'nope'))).status, 401);
  assert.equal((await getToken(realm, { scope: [PULL] }, basic('mallory', 'x'))).status, 401);
  const unknownGrant = await postToken(realm, { grant_type: 'client_credentials' });
  assert.equal(unknownGrant.status, 400);
  assert.equal(unknownGrant.body.error, 'unsupported_grant_type');
});

test('token: a token for another repository, signed with another key, expired or tampered with is refused', async (t) => {
  const clock = manualClock(Date.now());
  const registry = await startAuthRegistry(t, { tokenTtlMs: 60_000 }, { clock });
  const other = await startAuthRegistry(t, {});
  const realm = `${registry.url}/token`;
  await pushImageAs(registry, bearer((await getToken(realm, { scope: [PUSH] }, alice)).token), NAME, 'v1', ociImage({ seed: 5 }));
  const path = `/v2/${NAME}/manifests/v1`;
  const good = (await getToken(realm, { scope: [PULL] }, alice)).token;
  assert.equal((await callAs(registry, bearer(good), path)).status, 200);

  const elsewhere = (await getToken(realm, { scope: ['repository:broken/prepared/auth/other:pull'] }, alice)).token;
  const wrongRepository = await callAs(registry, bearer(elsewhere), path);
  assert.equal(challengeOf(wrongRepository).params.error, 'insufficient_scope');
  await expectError(wrongRepository, 401, 'UNAUTHORIZED');

  const foreign = (await getToken(`${other.url}/token`, { scope: [PULL] }, alice)).token;
  const foreignAnswer = await callAs(registry, bearer(foreign), path);
  assert.equal(challengeOf(foreignAnswer).params.error, 'invalid_token');
  await expectError(foreignAnswer, 401, 'UNAUTHORIZED');

  // The payload of a token for another repository, with the signature of the good one.
  const [header, , signature] = good.split('.');
  const [, otherPayload] = elsewhere.split('.');
  const forged = [header, otherPayload, signature].join('.');
  assert.equal((await callAs(registry, bearer(forged), `/v2/broken/prepared/auth/other/manifests/v1`)).status, 401);
  const payload = JSON.parse(Buffer.from(good.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
  const widened = Buffer.from(JSON.stringify({ ...payload, exp: Number(payload.exp) + 86_400 })).toString('base64url');
  assert.equal((await callAs(registry, bearer(`${header}.${widened}.${signature}`), path)).status, 401, 'a longer life is a tampered token');
  const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${good.split('.')[1]}.`;
  assert.equal((await callAs(registry, bearer(unsigned), path)).status, 401, 'alg none is refused');
  assert.equal((await callAs(registry, bearer('garbage'), path)).status, 401);

  // Checked once and cached, the token still expires: the clock moves past its lifetime.
  clock.advance(61_000);
  const expired = await callAs(registry, bearer(good), path);
  assert.equal(challengeOf(expired).params.error, 'invalid_token');
  await expectError(expired, 401, 'UNAUTHORIZED');
});

test('token: --auth-anonymous none gives anonymous clients nothing; the catalog needs registry:catalog:*', async (t) => {
  const registry = await startAuthRegistry(t, { anonymous: 'none' });
  const realm = `${registry.url}/token`;
  await pushImageAs(registry, bearer((await getToken(realm, { scope: [PUSH] }, alice)).token), NAME, 'v1', ociImage({ seed: 6 }));
  const anonymous = await getToken(realm, { scope: [PULL] });
  assert.equal(anonymous.status, 200, 'a token, as Docker Hub gives for private repositories');
  const refused = await callAs(registry, bearer(anonymous.token), `/v2/${NAME}/manifests/v1`);
  assert.equal(challengeOf(refused).params.error, 'insufficient_scope');
  await refused.arrayBuffer();
  const catalog = await callAs(registry, bearer((await getToken(realm, { scope: [PULL] }, alice)).token), '/v2/_catalog');
  assert.equal(challengeOf(catalog).params.scope, 'registry:catalog:*');
  await catalog.arrayBuffer();
  const allowed = await callAs(registry, bearer((await getToken(realm, { scope: ['registry:catalog:*'] }, alice)).token), '/v2/_catalog');
  assert.equal(allowed.status, 200);
  assert.deepEqual(((await allowed.json()) as { repositories: string[] }).repositories, [NAME]);
});

test('token: --token-key signs with a given key, so tokens outlive a restart; broken/error:401 names a realm that answers', async (t) => {
  const dir = await makeTempDir(t);
  const key = path.join(dir, 'key.pem');
  await promisify(execFile)('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], { timeout: 15_000 });
  const first = await startAuthRegistry(t, { tokenKey: key });
  const token = (await getToken(`${first.url}/token`, { scope: [PUSH] }, alice)).token;
  await pushImageAs(first, bearer(token), NAME, 'v1', ociImage({ seed: 7 }));
  await first.stop();
  const second = await startAuthRegistry(t, { tokenKey: key }, { storeDir: first.storeDir });
  assert.equal((await callAs(second, bearer(token), `/v2/${NAME}/manifests/v1`)).status, 200, 'same key, same verdict');
  const third = await startAuthRegistry(t, {}, { storeDir: first.storeDir });
  assert.equal((await callAs(third, bearer(token), `/v2/${NAME}/manifests/v1`)).status, 401, 'a fresh key refuses it');

  const unauthorized = await callAs(second, undefined, '/v2/broken/error/manifests/401');
  // Under --auth token the registry's own check comes first; with a token the scenario answers.
  const realm = challengeOf(unauthorized).params.realm ?? '';
  const scoped = await getToken(realm, { scope: ['repository:broken/error:pull'] });
  const scenario = await callAs(second, bearer(scoped.token), '/v2/broken/error/manifests/401');
  await expectError(scenario, 401, 'UNAUTHORIZED');
  const challenge = challengeOf(scenario);
  assert.equal(challenge.params.realm, `${second.url}/token`);
  const answered = await getToken(challenge.params.realm ?? '', { service: challenge.params.service, scope: [challenge.params.scope ?? ''] });
  assert.equal(answered.status, 200, 'the realm broken/error:401 names exists');
  await fs.rm(key);
});

test('credentials and tokens never appear in the log; realm requests log the grant type and scope', async (t) => {
  const registry = await startAuthRegistry(t, {});
  const realm = `${registry.url}/token`;
  const got = await getToken(realm, { scope: [PUSH], offline: true }, alice);
  const posted = await postToken(realm, { grant_type: 'password', username: 'bob', password: USERS.bob, scope: PULL, access_type: 'offline' });
  await postToken(realm, { grant_type: 'refresh_token', refresh_token: String(posted.body.refresh_token), scope: PULL });
  await postToken(realm, { grant_type: 'password', username: 'bob', password: 'a-wrong-secret', scope: PULL });
  await callAs(registry, bearer(got.token), `/v2/${NAME}/manifests/v1`);
  await callAs(registry, basic('alice', USERS.alice), `/v2/${NAME}/manifests/v1`);
  const text = registry.logs.map((entry) => `${formatText(entry)}\n${formatJson(entry)}`).join('\n');
  for (const secret of [USERS.alice, USERS.bob, 'a-wrong-secret', got.token, posted.token, String(posted.body.refresh_token), String(got.body.refresh_token), alice.slice(6)]) {
    assert.ok(!text.includes(secret), `the log holds no secret (${secret.slice(0, 12)}...)`);
  }
  const realmLines = registry.logs.filter((entry) => entry.scenario === 'token');
  assert.equal(realmLines.length, 4);
  assert.match(realmLines[0]?.detail ?? '', new RegExp(`grant=basic account="alice" .*scope="${PUSH}" granted="${PUSH}"`));
  assert.match(realmLines[1]?.detail ?? '', /token POST grant=password account="bob"/);
  assert.match(realmLines[2]?.detail ?? '', /grant=refresh_token/);
  assert.match(realmLines[3]?.detail ?? '', /grant=password account="bob" .*refused/);
});
