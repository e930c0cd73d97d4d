// Run-time rules over real HTTP: added, listed and removed through /_broken/rules, matched by
// repository glob (and reference, operation, digest), reaching /v2/ and _catalog, served through the
// decorator named in the rule (a test stand-in for broken/fault here), reset, and loaded by --rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, startRegistry } from './helpers/registry.js';
import { statusDecorator } from './helpers/status-decorator.js';
import { control, postRule, waitForJournal, TIMEOUT_MS } from './helpers/journal.js';
import { buildRegistry } from '../src/server/build.js';
import { resolveServeConfig } from '../src/config.js';
import { UsageError } from '../src/cli-error.js';

const IMAGE = '/v2/broken/random/manifests/layers-1_size-64';

async function status(url: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  await response.arrayBuffer();
  return response.status;
}

test('a rule by repository glob serves matching requests through its decorator, times-N then through', async (t) => {
  const registry = await startRegistry(t, { decorators: [statusDecorator()] });
  const added = await postRule(registry.url, { match: { repository: 'broken/rand*', operation: 'manifest' }, rules: 'status-503_times-2' });
  assert.equal(added.status, 201);
  assert.deepEqual(added.body, { id: 1, match: { repository: 'broken/rand*', operation: 'manifest' }, rules: 'status-503_times-2', decorator: 'fault', matched: 0 });
  const statuses = [];
  for (let i = 0; i < 3; i++) statuses.push(await status(registry.url + IMAGE));
  assert.deepEqual(statuses, [503, 503, 200]);
  // Not matched: another operation, another name outside the glob.
  assert.equal(await status(`${registry.url}/v2/broken/random/tags/list`), 200);
  assert.equal(await status(`${registry.url}/v2/broken/error/manifests/418`), 418);
  const entries = await waitForJournal(registry.url, (e) => e.length === 4, '?operation=manifest');
  assert.deepEqual(entries.slice(0, 3).map((e) => e.applied), [
    ['rule 1 fault:status-503_times-2 (match 1)', 'fault: status-503 times 1 of 2'],
    ['rule 1 fault:status-503_times-2 (match 2)', 'fault: status-503 times 2 of 2'],
    ['rule 1 fault:status-503_times-2 (match 3)'],
  ]);
  assert.deepEqual(entries.map((e) => e.scenario), ['fault', 'fault', 'fault>random', 'error']);
  assert.equal(entries[3]?.applied, undefined);
  const listed = await control(registry.url, '/_broken/rules');
  assert.deepEqual(listed.body.rules.map((r: { id: number; matched: number }) => [r.id, r.matched]), [[1, 3]]);
});

test('globs: * stays within a path component, ** crosses them; reference, digest and operation lists narrow a rule', async (t) => {
  const registry = await startRegistry(t, { decorators: [statusDecorator()] });
  await postRule(registry.url, { match: { repository: 'broken/prepared/*' }, rules: 'status-500' });
  await postRule(registry.url, { match: { repository: 'broken/**', reference: 'v1.*' }, rules: 'status-502' });
  const digest = `sha256:${'b'.repeat(64)}`;
  await postRule(registry.url, { match: { repository: '**', digest }, rules: 'status-504' });
  await postRule(registry.url, { match: { repository: 'broken/error', operation: ['blob.head', 'tags.list'] }, rules: 'status-507' });
  assert.equal(await status(`${registry.url}/v2/broken/prepared/one/tags/list`), 500);
  assert.equal(await status(`${registry.url}/v2/broken/prepared/one/two/tags/list`), 404, '* does not cross /');
  assert.equal(await status(`${registry.url}/v2/broken/random/manifests/v1.2`), 502);
  assert.equal(await status(`${registry.url}/v2/broken/random/manifests/v2.0`), 400, 'the random scenario refuses the tag itself');
  assert.equal(await status(`${registry.url}/v2/broken/error/blobs/${digest}`), 504);
  assert.equal(await status(`${registry.url}/v2/broken/error/blobs/${digest}`, { method: 'HEAD' }), 504);
  assert.equal(await status(`${registry.url}/v2/broken/error/blobs/sha256:${'c'.repeat(64)}`, { method: 'HEAD' }), 507);
  assert.equal(await status(`${registry.url}/v2/broken/error/tags/list`), 507);
  assert.equal(await status(`${registry.url}/v2/broken/error/manifests/418`), 418);
});

test('rules reach GET /v2/ and _catalog, whose repository is ""', async (t) => {
  const registry = await startRegistry(t, { decorators: [statusDecorator()] });
  assert.equal(await status(`${registry.url}/v2/`), 200);
  await postRule(registry.url, { match: { repository: '*', operation: 'base' }, rules: 'status-503_times-1' });
  await postRule(registry.url, { match: { repository: '', operation: 'catalog' }, rules: 'status-429' });
  assert.deepEqual([await status(`${registry.url}/v2/`), await status(`${registry.url}/v2/`)], [503, 200]);
  assert.equal(await status(`${registry.url}/v2/_catalog`), 429);
  assert.equal(await status(`${registry.url}/v2/broken/error/manifests/418`), 418);
});

test('DELETE /_broken/rules/<id> removes a rule; unknown ids are 404; reset starts the counts and journal again', async (t) => {
  const decorator = statusDecorator();
  const registry = await startRegistry(t, { decorators: [decorator] });
  const { body: rule } = await postRule(registry.url, { match: { repository: 'broken/random' }, rules: 'status-503_times-1' });
  assert.deepEqual([await status(registry.url + IMAGE), await status(registry.url + IMAGE)], [503, 200]);
  assert.equal((await control(registry.url, '/_broken/reset', { method: 'POST' })).status, 204);
  assert.equal(decorator.resets, 1);
  assert.deepEqual((await control(registry.url, '/_broken/journal')).body.entries, []);
  assert.deepEqual((await control(registry.url, '/_broken/rules')).body.rules[0].matched, 0);
  assert.equal(await status(registry.url + IMAGE), 503, 'times-1 counts again after the reset');
  assert.equal((await control(registry.url, `/_broken/rules/${rule.id}`, { method: 'DELETE' })).status, 204);
  assert.equal(await status(registry.url + IMAGE), 200);
  for (const id of [rule.id, 99, 'abc']) {
    const missing = await control(registry.url, `/_broken/rules/${id}`, { method: 'DELETE' });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.errors[0].code, 'NOT_FOUND');
    assert.match(missing.body.errors[0].message, new RegExp(`no rule with id ${id}`));
  }
  assert.deepEqual((await control(registry.url, '/_broken/rules')).body, { rules: [] });
  assert.equal((await control(registry.url, '/_broken/reset')).status, 405);
  assert.equal((await control(registry.url, '/_broken/nothing')).status, 404);
});

test('a bad rule is a 400 saying what is wrong, and nothing is stored', async (t) => {
  const registry = await startRegistry(t, { decorators: [statusDecorator()] });
  const cases: [unknown, RegExp][] = [
    ['{not json', /the body must be JSON/],
    [[1], /a rule is an object/],
    [{ rules: 'status-503' }, /"match" must be an object/],
    [{ match: {}, rules: 'status-503' }, /"match.repository" must be a glob string \(it is required/],
    [{ match: { repository: 'x', tag: 'y' }, rules: 'status-503' }, /"match" has unknown field "tag"/],
    [{ match: { repository: 'x', operation: 'pull' }, rules: 'status-503' }, /"pull" is not an operation/],
    [{ match: { repository: 'x', digest: 'sha256:abc' }, rules: 'status-503' }, /"match.digest" must be a digest/],
    [{ match: { repository: 'x' }, rules: '' }, /"rules" must be a non-empty string/],
    [{ match: { repository: 'x' }, rules: 'status-999' }, /rules "status-999": expected status-<N>/],
    [{ match: { repository: 'x' }, rules: 'status-503', decorator: 'nonesuch' }, /no decorator "nonesuch" in this registry; known: fault/],
  ];
  for (const [input, message] of cases) {
    const { status: code, body } = await postRule(registry.url, input);
    assert.equal(code, 400, JSON.stringify(input));
    assert.equal(body.errors[0].code, 'BAD_REQUEST');
    assert.match(body.errors[0].message, message);
  }
  const big = await postRule(registry.url, JSON.stringify({ match: { repository: 'x' }, rules: 'a'.repeat(70_000) }));
  assert.equal(big.status, 413);
  assert.deepEqual((await control(registry.url, '/_broken/rules')).body, { rules: [] });
});

test('with the built-in fault decorator, a run-time rule fails a real pull as broken/fault would, and bad fault rules are refused', async (t) => {
  const registry = await startRegistry(t);
  const bad = await postRule(registry.url, { match: { repository: '**' }, rules: 'status-503_times-x' });
  assert.equal(bad.status, 400);
  assert.match(bad.body.errors[0].message, /times/);
  const added = await postRule(registry.url, { match: { repository: 'broken/random' }, rules: 'on-manifest_status-503_times-1' });
  assert.equal(added.status, 201);
  assert.deepEqual([await status(registry.url + IMAGE), await status(registry.url + IMAGE)], [503, 200]);
});

test('serve --rules loads rules from YAML or JSON at start; a bad file stops the start with the rule it is about', async (t) => {
  const dir = await makeTempDir(t);
  const yaml = path.join(dir, 'rules.yaml');
  await fs.writeFile(yaml, '# the mirror fails twice\n- match:\n    repository: broken/random\n    operation: manifest.get\n  rules: status-503_times-2\n');
  const registry = await startRegistry(t, { decorators: [statusDecorator()], config: { rulesFile: yaml } });
  assert.deepEqual([await status(registry.url + IMAGE), await status(registry.url + IMAGE), await status(registry.url + IMAGE)], [503, 503, 200]);
  const json = path.join(dir, 'rules.json');
  await fs.writeFile(json, JSON.stringify({ rules: [{ id: 7, matched: 3, match: { repository: '**' }, rules: 'status-500' }] }));
  const fromJson = await startRegistry(t, { decorators: [statusDecorator()], config: { rulesFile: json } });
  assert.equal(await status(`${fromJson.url}/v2/`), 500);
  const bad = path.join(dir, 'bad.yaml');
  for (const [text, message] of [
    ['- match: {repository: x}\n  rules: status-503\n- match: {}\n  rules: status-503\n', /--rules .*bad\.yaml: rule 2: "match.repository" must be a glob/],
    ['key: [unclosed', /not JSON or YAML/],
    ['42', /expected a list of rules/],
  ] as const) {
    await fs.writeFile(bad, text);
    const config = { ...resolveServeConfig({ store: dir, port: '0', rules: bad }, {}) };
    await assert.rejects(buildRegistry({ config, log: () => undefined, decorators: [statusDecorator()] }), (error: Error) => error instanceof UsageError && message.test(error.message));
  }
  const missing = { ...resolveServeConfig({ store: dir, port: '0', rules: path.join(dir, 'none.yaml') }, {}) };
  await assert.rejects(buildRegistry({ config: missing, log: () => undefined }), /--rules .*none\.yaml: ENOENT/);
});
