// docker against the scenarios, as the seed's README shows them: errors with their messages, a
// timeout after HEAD and GET, and a random image that pulls and is then up to date.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingTools, ok, requireTools, Scope, startDockerd, type Docker } from '../helpers/clients.js';

const TOOLS = ['docker', 'dockerd'];

describe('docker pulls the scenarios', { timeout: 180_000 }, () => {
  const scope = new Scope();
  let registry: TestRegistry;
  let docker: Docker;

  before(async () => {
    registry = await startRegistry(scope.context);
    if (missingTools(...TOOLS).length > 0) return;
    docker = await startDockerd(scope, { insecureRegistries: [registry.host] });
  });
  after(() => scope.close());

  const pull = (ref: string) => docker.run(['pull', `${registry.host}/${ref}`], { timeoutMs: 60_000 });

  test('broken/error:404 fails with "manifest unknown" and the seed message', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const result = await pull('broken/error:404');
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /manifest unknown/);
    assert.match(result.stderr, /Looking for something\?/);
  });

  test('broken/error:403 fails with "Access to this resource is forbidden"', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const result = await pull('broken/error:403');
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Access to this resource is forbidden/);
  });

  test('broken/timeout:dur-2s fails with "Timeout duration has elapsed!" after HEAD then GET', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const before = registry.logs.length;
    const result = await pull('broken/timeout:dur-2s');
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /Timeout duration has elapsed!/);
    const waits = registry.logs.slice(before).filter((entry) => entry.scenario === 'timeout');
    assert.deepEqual(
      waits.map((entry) => [entry.method, entry.status]),
      [
        ['HEAD', 408],
        ['GET', 408],
      ],
    );
    for (const entry of waits) assert.ok(entry.ms >= 2000, `${entry.method} answered after ${entry.ms}ms`);
  });

  test('broken/random:layers-3_size-1024 pulls, and a second pull is up to date with the same digest', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const first = ok(await pull('broken/random:layers-3_size-1024'));
    const digest = /^Digest: (sha256:[a-f0-9]{64})$/m.exec(first.stdout)?.[1];
    assert.ok(digest, first.stdout);
    assert.match(first.stdout, /Downloaded newer image/);
    const second = ok(await pull('broken/random:layers-3_size-1024'));
    assert.match(second.stdout, /Image is up to date/);
    assert.equal(/^Digest: (sha256:[a-f0-9]{64})$/m.exec(second.stdout)?.[1], digest);
    const layers = ok(await docker.run(['image', 'inspect', '--format', '{{len .RootFS.Layers}}', `${registry.host}/broken/random:layers-3_size-1024`]));
    assert.equal(layers.stdout.trim(), '3');
  });
});
