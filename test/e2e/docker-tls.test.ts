// docker verifies the registry's certificate in the harness: the private dockerd trusts the test CA
// through SSL_CERT_FILE (never /etc), reaches the registry by a name it does not treat as insecure
// (helpers/name-proxy.ts), and refuses a registry whose certificate another CA signed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingTools, ok, requireTools, Scope, startDockerd, type Docker } from '../helpers/clients.js';
import { makeTestCa } from '../helpers/auth.js';

const TOOLS = ['docker', 'dockerd'];
const IMAGE = 'broken/random:layers-2_size-1024_seed-16';
const TIMEOUT = { timeoutMs: 60_000 };

describe('docker verifies TLS', { timeout: 180_000 }, () => {
  const scope = new Scope();
  let trusted: TestRegistry;
  let untrusted: TestRegistry;
  let docker: Docker;

  before(async () => {
    const ca = await makeTestCa(scope.context);
    const otherCa = await makeTestCa(scope.context);
    trusted = await startRegistry(scope.context, { tls: { cert: ca.cert, key: ca.key } });
    untrusted = await startRegistry(scope.context, { tls: { cert: otherCa.cert, key: otherCa.key } });
    if (missingTools(...TOOLS).length > 0) return;
    docker = await startDockerd(scope, { trust: [ca.caFile] });
  });
  after(() => scope.close());

  test('docker pulls from a TLS registry whose CA is in its SSL_CERT_FILE bundle', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    ok(await docker.run(['pull', `${docker.verifiedHost(trusted.port)}/${IMAGE}`], TIMEOUT));
    assert.ok(trusted.logs.some((entry) => entry.path.includes('/manifests/') && entry.status === 200), 'the pull reached the registry');
  });

  test('docker refuses a TLS registry whose certificate is not in the bundle, with an x509 error', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const refused = await docker.run(['pull', `${docker.verifiedHost(untrusted.port)}/${IMAGE}`], TIMEOUT);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /x509: certificate signed by unknown authority/);
    assert.equal(untrusted.logs.length, 0, 'no request got past the handshake');
  });

  test('by 127.0.0.1 the same untrusted registry pulls: dockerd never verifies 127.0.0.0/8, hence the name', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    ok(await docker.run(['pull', `${untrusted.host}/${IMAGE}`], TIMEOUT));
  });
});
