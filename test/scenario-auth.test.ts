// broken/auth/<rules>/<repository> over real HTTP: its challenge and realm, each rule, and the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import { expectError, ociImage, pushImage } from './helpers/oci-http.js';
import { manualClock } from './helpers/proxy.js';
import { basic, bearer, callAs, challengeOf, getToken, postToken, pushImageAs, startAuthRegistry } from './helpers/auth.js';
import { AUTH_RULES } from '../src/scenarios/auth-rules.js';

const INNER = 'broken/prepared/quirks/app';
const named = (rules: string) => `broken/auth/${rules}/${INNER}`;
const image = ociImage({ seed: 51 });

async function withImage(t: Parameters<typeof startRegistry>[0], options: Parameters<typeof startRegistry>[1] = {}): Promise<TestRegistry> {
  const registry = await startRegistry(t, options);
  await pushImage(registry, INNER, 'v1', image);
  return registry;
}

/** The challenge of a manifest GET without credentials, and a token from its realm (GET, anonymous). */
async function tokenFor(registry: TestRegistry, rules: string, authorization?: string) {
  const refused = await callAs(registry, undefined, `/v2/${named(rules)}/manifests/v1`);
  await expectError(refused, 401, 'UNAUTHORIZED');
  const challenge = challengeOf(refused);
  const scope = challenge.params.scope;
  const answer = await getToken(challenge.params.realm ?? '', { service: challenge.params.service, scope: scope ? [scope] : [] }, authorization);
  return { challenge, answer };
}

test('broken/auth/default: always challenges with its own realm, which hands out tokens anonymously and to broken/broken', async (t) => {
  const registry = await withImage(t);
  const { challenge, answer } = await tokenFor(registry, 'default');
  assert.equal(challenge.scheme, 'bearer');
  assert.equal(challenge.params.realm, `${registry.url}/token/quirks/default`);
  assert.equal(challenge.params.service, 'broken-reg-auth');
  assert.equal(challenge.params.scope, `repository:${named('default')}:pull`);
  assert.equal(answer.status, 200);
  assert.equal(answer.body.expires_in, 300);
  const manifest = await callAs(registry, bearer(answer.token), `/v2/${named('default')}/manifests/v1`);
  assert.equal(manifest.status, 200);
  assert.deepEqual(Buffer.from(await manifest.arrayBuffer()), image.manifest.bytes);
  assert.equal((await tokenFor(registry, 'default', basic('broken', 'broken'))).answer.status, 200);
  assert.equal((await tokenFor(registry, 'default', basic('broken', 'wrong'))).answer.status, 401);
  // A token for these rules is no token for other rules, nor for the registry's own realm's names.
  const other = await callAs(registry, bearer(answer.token), `/v2/${named('ttl-1m')}/manifests/v1`);
  assert.equal(challengeOf(other).params.error, 'invalid_token');
  await other.arrayBuffer();

  // Pushes go through to the inner repository, Locations keep the outer name.
  const push = await getToken(challenge.params.realm ?? '', { service: 'broken-reg-auth', scope: [`repository:${named('default')}:pull,push`] });
  const start = await callAs(registry, bearer(push.token), `/v2/${named('default')}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202);
  assert.match(start.headers.get('location') ?? '', new RegExp(`^/v2/${named('default')}/blobs/uploads/`));
  await pushImageAs(registry, bearer(push.token), named('default'), 'v2', ociImage({ seed: 52 }));
  assert.equal((await callAs(registry, undefined, `/v2/${INNER}/manifests/v2`)).status, 200, 'pushed to the inner name');
});

test('broken/auth: bad rules are 400 NAME_INVALID naming the rule and listing the keys', async (t) => {
  const registry = await startRegistry(t);
  for (const [rules, mention] of [['bogus', 'unknown rule "bogus"'], ['ttl-soon', 'ttl-<duration>'], ['post-302', 'post-<404html|403|500|json>'], ['basic-yes', 'takes no value'], ['ttl-1s_ttl-2s', 'given twice']] as const) {
    const error = await expectError(await callAs(registry, undefined, `/v2/${named(rules)}/manifests/v1`), 400, 'NAME_INVALID');
    assert.ok(error.message.includes(mention), `${rules}: ${error.message}`);
    for (const rule of AUTH_RULES) assert.ok(error.message.includes(rule.grammar), `${rules}: lists ${rule.grammar}`);
  }
  await expectError(await callAs(registry, undefined, '/token/quirks/bogus'), 400, 'NAME_INVALID');
});

test('broken/auth realm answers: post-<404html|403|500|json> and getonly fail POST only; field-*, json-bad, realm-503, realm-delay', async (t) => {
  const registry = await withImage(t);
  const form = { grant_type: 'password', username: 'broken', password: 'broken', service: 'broken-reg-auth', scope: `repository:${INNER}:pull` };
  const posts: [string, number, RegExp][] = [['post-404html', 404, /^text\/html/], ['post-403', 403, /json/], ['post-500', 500, /json/], ['post-json', 400, /json/], ['getonly', 405, /json/], ['default', 200, /json/]];
  for (const [rules, status, type] of posts) {
    const realm = `${registry.url}/token/quirks/${rules}`;
    const response = await fetch(realm, { method: 'POST', body: new URLSearchParams(form), signal: AbortSignal.timeout(5000) });
    assert.equal(response.status, status, `${rules}: POST`);
    assert.match(response.headers.get('content-type') ?? '', type);
    await response.arrayBuffer();
    const { challenge, answer } = await tokenFor(registry, rules, basic('broken', 'broken'));
    assert.equal(answer.status, 200, `${rules}: GET works`);
    assert.equal((await callAs(registry, bearer(answer.token), `/v2/${named(rules)}/manifests/v1`)).status, 200, `${rules}: the GET token works`);
    assert.ok(challenge.params.realm?.endsWith(`/token/quirks/${rules}`));
  }
  assert.deepEqual(Object.keys((await tokenFor(registry, 'field-token')).answer.body).sort(), ['expires_in', 'issued_at', 'token']);
  assert.deepEqual(Object.keys((await tokenFor(registry, 'field-access_token')).answer.body).sort(), ['access_token', 'expires_in', 'issued_at']);
  const bad = await fetch(`${registry.url}/token/quirks/json-bad?scope=repository:${named('json-bad')}:pull`, { signal: AbortSignal.timeout(5000) });
  assert.equal(bad.status, 200);
  const text = await bad.text();
  assert.throws(() => JSON.parse(text) as unknown, `json-bad: ${text}`);
  const unavailable = await fetch(`${registry.url}/token/quirks/realm-503`, { signal: AbortSignal.timeout(5000) });
  assert.equal(unavailable.status, 503);
  assert.equal(unavailable.headers.get('retry-after'), '1');
  await unavailable.arrayBuffer();
  const started = performance.now();
  assert.equal((await tokenFor(registry, 'realm-delay-400ms')).answer.status, 200);
  assert.ok(performance.now() - started >= 390, 'the realm waited');
});

test('broken/auth challenges: realm-down, scope-<omit|empty|placeholder|multi>, basic', async (t) => {
  const registry = await withImage(t);
  const down = challengeOf(await callAs(registry, undefined, `/v2/${named('realm-down')}/manifests/v1`));
  assert.equal(down.params.realm, `http://127.0.0.1:9/token/quirks/realm-down`);
  await assert.rejects(fetch(down.params.realm ?? '', { signal: AbortSignal.timeout(5000) }), 'connection refused');

  const scopes: [string, string | undefined][] = [
    ['scope-omit', undefined],
    ['scope-empty', ''],
    ['scope-placeholder', 'repository:user/image:pull'],
    ['scope-multi', `repository:${named('scope-multi')}:pull registry:catalog:*`],
  ];
  for (const [rules, expected] of scopes) {
    const { challenge, answer } = await tokenFor(registry, rules);
    assert.equal(challenge.params.scope, expected, rules);
    assert.equal((await callAs(registry, bearer(answer.token), `/v2/${named(rules)}/manifests/v1`)).status, 200, `${rules}: the token from that scope works`);
  }
  // Only where the challenge names a usable scope is the token's scope checked.
  const unscoped = await getToken(`${registry.url}/token/quirks/scope-multi`, {});
  assert.equal(challengeOf(await callAs(registry, bearer(unscoped.token), `/v2/${named('scope-multi')}/manifests/v1`)).params.error, 'insufficient_scope');

  const basicChallenge = await callAs(registry, undefined, `/v2/${named('basic')}/manifests/v1`);
  assert.deepEqual(challengeOf(basicChallenge), { scheme: 'basic', params: { realm: 'broken-reg' } });
  await basicChallenge.arrayBuffer();
  assert.equal((await callAs(registry, basic('broken', 'broken'), `/v2/${named('basic')}/manifests/v1`)).status, 200);
  assert.equal((await callAs(registry, basic('broken', 'x'), `/v2/${named('basic')}/manifests/v1`)).status, 401);
});

test('broken/auth expiry: ttl-, expiry-lie, nochallenge, revoke-after-N, insufficient-blob', async (t) => {
  const clock = manualClock(Date.now());
  const registry = await withImage(t, { clock });
  const manifest = (rules: string, token: string) => callAs(registry, bearer(token), `/v2/${named(rules)}/manifests/v1`);

  const ttl = (await tokenFor(registry, 'ttl-2s')).answer;
  assert.equal(ttl.body.expires_in, 2);
  assert.equal((await manifest('ttl-2s', ttl.token)).status, 200);
  clock.advance(2_100);
  const expired = await manifest('ttl-2s', ttl.token);
  assert.equal(challengeOf(expired).params.error, 'invalid_token');
  assert.equal(challengeOf(expired).params.realm, `${registry.url}/token/quirks/ttl-2s`);
  await expectError(expired, 401, 'UNAUTHORIZED');

  const lie = (await tokenFor(registry, 'ttl-2s_expiry-lie_nochallenge')).answer;
  assert.equal(lie.body.expires_in, 3600, 'expires_in lies');
  assert.equal((await manifest('ttl-2s_expiry-lie_nochallenge', lie.token)).status, 200);
  clock.advance(2_100);
  const silent = await manifest('ttl-2s_expiry-lie_nochallenge', lie.token);
  assert.equal(silent.headers.get('www-authenticate'), null, 'nochallenge: no WWW-Authenticate after expiry');
  await expectError(silent, 401, 'UNAUTHORIZED');
  assert.ok((await callAs(registry, undefined, `/v2/${named('ttl-2s_expiry-lie_nochallenge')}/manifests/v1`)).headers.get('www-authenticate'), 'the first challenge is still there');

  const revoked = (await tokenFor(registry, 'revoke-after-2')).answer;
  assert.deepEqual([(await manifest('revoke-after-2', revoked.token)).status, (await manifest('revoke-after-2', revoked.token)).status, (await manifest('revoke-after-2', revoked.token)).status], [200, 200, 401]);

  const rules = 'insufficient-blob';
  const first = (await tokenFor(registry, rules)).answer;
  assert.equal((await manifest(rules, first.token)).status, 200, 'manifests take the token');
  const blobPath = `/v2/${named(rules)}/blobs/${image.layers[0]?.digest}`;
  const refused = await callAs(registry, bearer(first.token), blobPath);
  assert.equal(challengeOf(refused).params.error, 'insufficient_scope');
  assert.equal(challengeOf(refused).params.scope, `repository:${named(rules)}:pull`);
  await refused.arrayBuffer();
  assert.equal((await callAs(registry, bearer(first.token), blobPath)).status, 401, 'the same token stays refused');
  const renewed = await getToken(`${registry.url}/token/quirks/${rules}`, { scope: [`repository:${named(rules)}:pull`] });
  const blob = await callAs(registry, bearer(renewed.token), blobPath);
  assert.equal(blob.status, 200, 'a new token works');
  assert.deepEqual(Buffer.from(await blob.arrayBuffer()), image.layers[0]?.bytes);
});

test('broken/auth under --auth token challenges for itself; its realm requests are logged without secrets', async (t) => {
  const registry = await startAuthRegistry(t, { mode: 'token' });
  const rules = 'post-404html';
  const refused = await callAs(registry, undefined, `/v2/${named(rules)}/manifests/v1`);
  assert.equal(challengeOf(refused).params.realm, `${registry.url}/token/quirks/${rules}`, 'its own realm, not /token');
  await refused.arrayBuffer();
  await postToken(`${registry.url}/token/quirks/${rules}`, { grant_type: 'password', username: 'broken', password: 'broken', scope: `repository:${named(rules)}:pull` });
  await getToken(`${registry.url}/token/quirks/${rules}`, { scope: [`repository:${named(rules)}:pull`] }, basic('broken', 'broken'));
  const lines = registry.logs.filter((entry) => entry.scenario === 'auth-realm');
  assert.equal(lines.length, 2);
  assert.match(lines[0]?.detail ?? '', /token POST grant=password account="broken" .*scope="repository:broken\/auth\/post-404html\/.*:pull" answered 404/);
  assert.match(lines[1]?.detail ?? '', /token GET grant=basic account="broken" .*granted=/);
  assert.ok(!JSON.stringify(registry.logs).includes('YnJva2VuOmJyb2tlbg'), 'no Basic credentials in the log');
  assert.ok(!JSON.stringify(registry.logs).includes('password=broken'), 'no form body in the log');
});

test('under --auth token, /token sends token requests for broken/auth names to their realm (307), realm-down included', async (t) => {
  const registry = await startAuthRegistry(t, { mode: 'token' });
  const scope = encodeURIComponent(`repository:${named('field-token')}:pull`);
  const redirected = await fetch(`${registry.url}/token?service=broken-reg&scope=${scope}`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
  assert.equal(redirected.status, 307);
  assert.equal(redirected.headers.get('location'), `${registry.url}/token/quirks/field-token?service=broken-reg&scope=${scope}`);
  const followed = await getToken(`${registry.url}/token`, { service: 'broken-reg', scope: [`repository:${named('field-token')}:pull`] });
  assert.deepEqual(Object.keys(followed.body).sort(), ['expires_in', 'issued_at', 'token'], 'the quirks apply');
  assert.equal((await callAs(registry, bearer(followed.token), `/v2/${named('field-token')}/manifests/v1`)).status, 404, 'the token works (no image there)');
  const down = await fetch(`${registry.url}/token?scope=${encodeURIComponent(`repository:${named('realm-down')}:pull`)}`, { redirect: 'manual', signal: AbortSignal.timeout(5000) });
  assert.match(down.headers.get('location') ?? '', /^http:\/\/127\.0\.0\.1:9\/token\/quirks\/realm-down\?/);
  const guarded = await callAs(registry, undefined, `/v2/${named('realm-down')}/manifests/v1`);
  await expectError(guarded, 401, 'UNAUTHORIZED');
  const posted = await fetch(`${registry.url}/token`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ grant_type: 'password', username: 'broken', password: 'broken', scope: `repository:${named('default')}:pull` }), signal: AbortSignal.timeout(5000) });
  assert.equal(posted.status, 307);
  assert.equal(posted.headers.get('location'), `${registry.url}/token/quirks/default`);
});
