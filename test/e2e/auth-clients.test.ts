// docker, podman and skopeo, real, against serve --auth token and --auth basic (login, push, pull with
// credentials, anonymous pull), and against broken/auth rules: each client's outcome must be the one
// the README's client table says.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir, type TestRegistry, serverErrors } from '../helpers/registry.js';
import { createPodman, createSkopeo, missingTools, ok, requireTools, Scope, startDockerd, type Docker, type Podman, type RunResult, type Skopeo } from '../helpers/clients.js';
import { buildTestImages, type TestImages } from '../helpers/images.js';
import { makeTestCa, startAuthRegistry, USERS, type TestCa } from '../helpers/auth.js';

const TOOLS = ['docker', 'dockerd', 'podman', 'skopeo'];
const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../README.md');
const CLIENT_TIMEOUT = { timeoutMs: 90_000 };
const CLIENTS = ['docker', 'podman', 'skopeo'] as const;
type Client = (typeof CLIENTS)[number];

interface TableRow {
  /** The rules in the first cell (or a whole decorated prefix, `broken/fault/.../broken/redirect/...`). */
  rules: string;
  /** The row says `(https registry)`: pulled from the TLS registry, every client verifying it. */
  https: boolean;
  expected: Record<Client, string>;
}

/** A README client table (auth-clients, redirect-clients): rule → client → "pulls" | "fails". */
async function readmeTable(marker: string): Promise<TableRow[]> {
  const readme = await fs.readFile(README, 'utf8');
  const block = new RegExp(`<!-- ${marker}:start -->([\\s\\S]*?)<!-- ${marker}:end -->`).exec(readme)?.[1] ?? '';
  const rows: TableRow[] = [];
  for (const line of block.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const first = /^`([^`]+)`( \(https registry\))?$/.exec(cells[1] ?? '');
    if (!first?.[1]) continue;
    const outcome = (cell: string | undefined) => /^(pulls|fails)\b/.exec(cell ?? '')?.[1] ?? `unreadable: ${cell ?? ''}`;
    rows.push({ rules: first[1], https: first[2] !== undefined, expected: { docker: outcome(cells[2]), podman: outcome(cells[3]), skopeo: outcome(cells[4]) } });
  }
  return rows;
}

describe('real clients with serve --auth token, --auth basic and broken/auth', { timeout: 900_000 }, () => {
  const scope = new Scope();
  let token: TestRegistry;
  let basicRegistry: TestRegistry;
  let quirks: TestRegistry;
  let tls: TestRegistry;
  let ca: TestCa;
  let images: TestImages;
  let work: string;
  let skopeo: Skopeo;
  let podman: Podman;
  let docker: Docker;

  before(async () => {
    token = await startAuthRegistry(scope.context, { mode: 'token' });
    basicRegistry = await startAuthRegistry(scope.context, { mode: 'basic' });
    quirks = await startAuthRegistry(scope.context, { mode: 'token' });
    ca = await makeTestCa(scope.context);
    tls = await startAuthRegistry(scope.context, { mode: 'token' }, { tls: { cert: ca.cert, key: ca.key } });
    work = await makeTempDir(scope.context, 'broken-reg-e2e-auth-');
    images = await buildTestImages(work);
    if (missingTools(...TOOLS).length > 0) return;
    // The TLS registry is not insecure for skopeo and podman: they verify it against the test CA.
    const hosts = [token.host, basicRegistry.host, quirks.host];
    skopeo = await createSkopeo(scope, hosts);
    podman = await createPodman(scope, hosts);
    // dockerd verifies the TLS registry against the test CA (SSL_CERT_FILE), by docker.verifiedHost.
    docker = await startDockerd(scope, { insecureRegistries: hosts, trust: [ca.caFile] });
    for (const registry of [token, basicRegistry, quirks, tls]) {
      const verify = registry === tls ? ['--dest-tls-verify=true', '--dest-cert-dir', ca.certDir] : [];
      ok(await skopeo.copy(`oci:${images.layout}:oci`, `docker://${registry.host}/broken/prepared/e2e/app:v1`, ['--preserve-digests', '--dest-creds', `alice:${USERS.alice}`, ...verify], CLIENT_TIMEOUT));
    }
  });
  after(() => scope.close());
  /** The TLS registry as docker names it (verified) and as skopeo and podman do (127.0.0.1, verified with the CA). */
  const tlsHost = (client: Client) => (client === 'docker' ? docker.verifiedHost(tls.port) : tls.host);

  for (const mode of ['token', 'basic'] as const) {
    const registryOf = () => (mode === 'token' ? token : basicRegistry);
    const ref = (repository: string) => `${registryOf().host}/broken/prepared/e2e/${repository}`;

    test(`--auth ${mode}: skopeo pulls with --creds and anonymously, pushes with --dest-creds, and cannot push anonymously`, async (t) => {
      if (!requireTools(t, ...TOOLS)) return;
      const inspected = ok(await skopeo.inspect(`docker://${ref('app:v1')}`, ['--creds', `bob:${USERS.bob}`], CLIENT_TIMEOUT));
      assert.equal((JSON.parse(inspected.stdout) as { Digest: string }).Digest, images.oci.manifest.digest);
      ok(await skopeo.inspect(`docker://${ref('app:v1')}`, [], CLIENT_TIMEOUT));
      ok(await skopeo.copy(`oci:${images.layout}:oci`, `docker://${ref('skopeo:v1')}`, ['--dest-creds', `bob:${USERS.bob}`], CLIENT_TIMEOUT));
      const anonymous = await skopeo.copy(`oci:${images.layout}:oci`, `docker://${ref('anonymous:v1')}`, [], CLIENT_TIMEOUT);
      assert.notEqual(anonymous.code, 0, 'an anonymous push is refused');
      assert.match(anonymous.stderr, /unauthorized|authentication required|insufficient|denied/i);
      const wrong = await skopeo.inspect(`docker://${ref('app:v1')}`, ['--creds', 'bob:wrong'], CLIENT_TIMEOUT);
      assert.notEqual(wrong.code, 0, 'a wrong password is refused');
    });

    test(`--auth ${mode}: podman logs in, pushes and pulls`, async (t) => {
      if (!requireTools(t, ...TOOLS)) return;
      ok(await podman.run(['login', '--tls-verify=false', '--authfile', path.join(podman.dir, 'auth.json'), '-u', 'alice', '-p', USERS.alice, registryOf().host], CLIENT_TIMEOUT));
      const flags = ['--authfile', path.join(podman.dir, 'auth.json')];
      ok(await podman.pull(ref('app:v1'), flags, CLIENT_TIMEOUT));
      ok(await podman.run(['tag', ref('app:v1'), ref('podman:v1')]));
      ok(await podman.push(ref('podman:v1'), flags, CLIENT_TIMEOUT));
      ok(await podman.run(['rmi', '--force', ref('podman:v1'), ref('app:v1')]));
      ok(await podman.pull(ref('podman:v1'), flags, CLIENT_TIMEOUT));
      ok(await podman.run(['logout', '--authfile', path.join(podman.dir, 'auth.json'), registryOf().host]));
      ok(await podman.run(['rmi', '--force', ref('podman:v1')]));
    });

    test(`--auth ${mode}: docker logs in, pushes and pulls`, async (t) => {
      if (!requireTools(t, ...TOOLS)) return;
      const login = ok(await docker.run(['login', '-u', 'alice', '-p', USERS.alice, registryOf().host], CLIENT_TIMEOUT));
      assert.match(login.stdout, /Login Succeeded/);
      ok(await docker.run(['pull', ref('app:v1')], CLIENT_TIMEOUT));
      ok(await docker.run(['tag', ref('app:v1'), ref('docker:v1')]));
      const pushed = ok(await docker.run(['push', ref('docker:v1')], CLIENT_TIMEOUT));
      assert.match(pushed.stdout, /digest: sha256:/);
      ok(await docker.run(['rmi', '--force', ref('docker:v1'), ref('app:v1')]));
      ok(await docker.run(['pull', ref('docker:v1')], CLIENT_TIMEOUT));
      ok(await docker.run(['logout', registryOf().host]));
      ok(await docker.run(['rmi', '--force', ref('docker:v1')]));
      const anonymous = await docker.run(['push', ref('docker:v1')], CLIENT_TIMEOUT);
      assert.notEqual(anonymous.code, 0);
    });
  }

  test('--auth token over TLS: the realm is https; skopeo, podman and docker verify it against the test CA', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const ref = `${tls.host}/broken/prepared/e2e/tls:v1`;
    const verify = ['--dest-tls-verify=true', '--dest-cert-dir', ca.certDir, '--dest-creds', `alice:${USERS.alice}`];
    ok(await skopeo.run(['copy', '--retry-times', '0', ...verify, `oci:${images.layout}:oci`, `docker://${ref}`], CLIENT_TIMEOUT));
    const unverified = await skopeo.run(['inspect', '--retry-times', '0', '--tls-verify=true', `docker://${ref}`], CLIENT_TIMEOUT);
    assert.notEqual(unverified.code, 0, 'without the CA skopeo refuses the certificate');
    assert.match(unverified.stderr, /certificate/);
    const authfile = path.join(podman.dir, 'tls-auth.json');
    ok(await podman.run(['login', '--tls-verify=true', '--cert-dir', ca.certDir, '--authfile', authfile, '-u', 'alice', '-p', USERS.alice, tls.host], CLIENT_TIMEOUT));
    ok(await podman.run(['pull', '--tls-verify=true', '--cert-dir', ca.certDir, '--authfile', authfile, '--signature-policy', path.join(podman.dir, 'policy.json'), ref], CLIENT_TIMEOUT));
    ok(await podman.run(['tag', ref, `${tls.host}/broken/prepared/e2e/tls-podman:v1`]));
    ok(await podman.run(['push', '--tls-verify=true', '--cert-dir', ca.certDir, '--authfile', authfile, '--signature-policy', path.join(podman.dir, 'policy.json'), `${tls.host}/broken/prepared/e2e/tls-podman:v1`], CLIENT_TIMEOUT));
    const verified = tlsHost('docker');
    ok(await docker.run(['login', '-u', 'alice', '-p', USERS.alice, verified], CLIENT_TIMEOUT));
    ok(await docker.run(['pull', `${verified}/broken/prepared/e2e/tls:v1`], CLIENT_TIMEOUT));
    ok(await docker.run(['tag', `${verified}/broken/prepared/e2e/tls:v1`, `${verified}/broken/prepared/e2e/tls-docker:v1`]));
    ok(await docker.run(['push', `${verified}/broken/prepared/e2e/tls-docker:v1`], CLIENT_TIMEOUT));
    ok(await docker.run(['logout', verified]));
    // Every token request of these clients went to the https realm.
    const realm = tls.logs.filter((entry) => entry.scenario === 'token');
    assert.ok(realm.length >= 3, 'the clients asked the realm');
    assert.ok(tls.logs.filter((entry) => entry.path.startsWith('/v2/broken/prepared/e2e/tls-docker/') && entry.method === 'PUT').length >= 1, 'docker pushed over TLS');
  });

  /**
   * An anonymous pull of broken/<decorator>/<rules>/... (rules starting with broken/ are a whole
   * decorated prefix), from the TLS registry with verification when https; the local copy is removed
   * afterwards.
   */
  async function pullThrough(client: Client, rules: string, decorator = 'auth', https = false): Promise<RunResult> {
    const prefix = rules.startsWith('broken/') ? rules : `broken/${decorator}/${rules}`;
    const name = `${https ? tlsHost(client) : quirks.host}/${prefix}/broken/prepared/e2e/app:v1`;
    if (client === 'skopeo') {
      const verify = https ? ['--src-tls-verify=true', '--src-cert-dir', ca.certDir] : [];
      return skopeo.copy(`docker://${name}`, `dir:${await makeTempDir(scope.context, 'broken-reg-e2e-auth-dir-')}`, verify, CLIENT_TIMEOUT);
    }
    // No layer may be there already, or the client would not fetch the blobs the rules are about.
    if (client === 'docker') ok(await docker.run(['image', 'prune', '--all', '--force'], CLIENT_TIMEOUT));
    else ok(await podman.run(['rmi', '--all', '--force'], CLIENT_TIMEOUT));
    if (client === 'docker') return docker.run(['pull', name], CLIENT_TIMEOUT);
    return podman.pull(name, https ? ['--tls-verify=true', '--cert-dir', ca.certDir] : [], CLIENT_TIMEOUT);
  }

  test('broken/auth rules: each client pulls or fails as the README client table says', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const table = await readmeTable('auth-clients');
    assert.ok(table.length >= 8, 'the README has the client table');
    const observed: string[] = [];
    const mismatches: string[] = [];
    for (const { rules, expected } of table) {
      for (const client of CLIENTS) {
        const result = await pullThrough(client, rules);
        assert.ok(!result.timedOut, `${client} ${rules} did not hang`);
        const outcome = result.code === 0 ? 'pulls' : 'fails';
        observed.push(`| \`${rules}\` | ${client} | ${outcome} | ${result.stderr.trim().split('\n').pop()?.slice(0, 200) ?? ''}`);
        if (outcome !== expected[client]) mismatches.push(`${rules} ${client}: README says ${expected[client]}, observed ${outcome}`);
      }
    }
    assert.deepEqual(mismatches, [], `observed:\n${observed.join('\n')}`);
    // None of the three POSTs to a realm when it has no identity token: post-404html never bites them.
    const postRealm = quirks.logs.filter((entry) => entry.path.startsWith('/token/quirks/post-404html'));
    assert.ok(postRealm.length >= 3 && postRealm.every((entry) => entry.method === 'GET'), 'post-404html: every client asked with GET');
    // Every realm request of these pulls was logged with what it asked, never with a secret.
    const realmLines = quirks.logs.filter((entry) => entry.scenario === 'auth-realm' || entry.scenario === 'token');
    assert.ok(realmLines.length > 0 && realmLines.every((entry) => /token (GET|POST)/.test(entry.detail ?? '')));
    assert.ok(!JSON.stringify(quirks.logs).includes(USERS.alice));
  });

  test('broken/redirect rules: each client pulls or fails as the README redirect table says', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const table = await readmeTable('redirect-clients');
    assert.ok(table.length >= 6, 'the README has the redirect table');
    assert.ok(table.some((row) => row.https && row.rules === 'scheme-http'), 'the table has scheme-http under TLS');
    const observed: string[] = [];
    const mismatches: string[] = [];
    for (const { rules, https, expected } of table) {
      for (const client of CLIENTS) {
        const registry = https ? tls : quirks;
        // A fault's counts (times-1) are per registry: each client starts from the first request.
        if (rules.startsWith('broken/fault/')) assert.equal((await fetch(`${registry.url}/_broken/reset`, { method: 'POST', signal: AbortSignal.timeout(5_000) })).status, 204);
        const before = registry.logs.length;
        const result = await pullThrough(client, rules, 'redirect', https);
        assert.ok(!result.timedOut, `${client} ${rules} did not hang`);
        const outcome = result.code === 0 ? 'pulls' : 'fails';
        const row = `${rules}${https ? ' (https)' : ''}`;
        const blobGets = registry.logs.slice(before).filter((entry) => entry.method === 'GET' && entry.path.includes('/blobs/')).length;
        observed.push(`| \`${row}\` | ${client} | ${outcome} | ${blobGets} blob GETs | ${result.stderr.trim().split('\n').pop()?.slice(0, 200) ?? ''}`);
        if (outcome !== expected[client]) mismatches.push(`${row} ${client}: README says ${expected[client]}, observed ${outcome}`);
        // Every row's pull met the redirect: the registry answered a blob GET with one.
        const redirects = registry.logs.slice(before).filter((entry) => entry.path.includes('/blobs/') && entry.status >= 301 && entry.status <= 308);
        assert.ok(redirects.length > 0, `${row} ${client}: the registry redirected a blob`);
      }
    }
    assert.deepEqual(mismatches, [], `observed:\n${observed.join('\n')}`);
  });

  test('the registries answered no 5xx', () => {
    for (const registry of [token, basicRegistry, quirks, tls]) assert.deepEqual(serverErrors(registry.logs), []);
  });
});
