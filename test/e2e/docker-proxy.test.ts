// docker pulls through the proxy: an upstream broken-reg holds images in broken/prepared (pushed by
// skopeo from an offline-built layout), a second broken-reg proxies `--upstream <upstream>/broken/prepared`,
// and the harness's dockerd pulls from the proxy: the upstream's digests, then, with the upstream
// stopped and the images removed, the same images again from the proxy's cache.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { startProxy, type ProxyRegistry } from '../helpers/proxy.js';
import { createSkopeo, missingTools, ok, requireTools, Scope, startDockerd, type Docker, type Skopeo } from '../helpers/clients.js';
import { buildTestImages, type TestImage, type TestImages } from '../helpers/images.js';

const TOOLS = ['docker', 'dockerd', 'skopeo'];
const TIMEOUT = { timeoutMs: 60_000 };

describe('docker pulls through the proxy', { timeout: 240_000 }, () => {
  const scope = new Scope();
  let upstream: TestRegistry;
  let proxy: ProxyRegistry;
  let images: TestImages;
  let skopeo: Skopeo;
  let docker: Docker;

  before(async () => {
    upstream = await startRegistry(scope.context);
    proxy = await startProxy(scope.context, {
      flags: { upstream: `${upstream.host}/broken/prepared`, upstreamInsecure: [upstream.host] },
    });
    const work = await makeTempDir(scope.context, 'broken-reg-e2e-docker-proxy-');
    images = await buildTestImages(work);
    if (missingTools(...TOOLS).length > 0) return;
    skopeo = await createSkopeo(scope, [upstream.host]);
    docker = await startDockerd(scope, { insecureRegistries: [proxy.host] });
    const into = (repository: string) => `docker://${upstream.host}/broken/prepared/docker-proxy/${repository}:v1`;
    ok(await skopeo.copy(`oci:${images.layout}:oci`, into('oci'), ['--preserve-digests'], TIMEOUT));
    ok(await skopeo.copy(`dir:${images.dirs.docker}`, into('docker'), ['--preserve-digests'], TIMEOUT));
  });
  after(() => scope.close());

  /** The name docker pulls: the proxy maps it to <upstream>/broken/prepared/docker-proxy/<repository>. */
  const through = (repository: string) => `${proxy.host}/docker-proxy/${repository}:v1`;
  const kinds = (): [string, TestImage][] => [
    ['oci', images.oci],
    ['docker', images.docker],
  ];

  function pullDigest(output: string): string | undefined {
    return /^Digest: (sha256:[a-f0-9]{64})$/m.exec(output)?.[1];
  }

  async function imageId(name: string): Promise<string> {
    return ok(await docker.run(['image', 'inspect', '--format', '{{.Id}}', name], TIMEOUT)).stdout.trim();
  }

  test('pulls OCI and Docker v2 images through the proxy with the upstream digests', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    for (const [repository, image] of kinds()) {
      const name = through(repository);
      const pulled = ok(await docker.run(['pull', name], TIMEOUT));
      assert.equal(pullDigest(pulled.stdout), image.manifest.digest, `pull of ${repository}`);
      assert.match(pulled.stdout, /Status: Downloaded newer image/);
      assert.equal(await imageId(name), image.blobs[0]?.digest, 'the image ID is the config digest');
    }
    const fetched = upstream.logs.filter((entry) => entry.method === 'GET' && entry.path.includes('/docker-proxy/') && entry.path.includes('/blobs/'));
    assert.ok(fetched.length >= 4, `the proxy fetched configs and layers upstream (${fetched.length} blob GETs)`);
    assert.ok(proxy.logs.some((entry) => entry.scenario === 'proxy' && entry.path.includes('/blobs/')), 'the proxy served the blobs');
  });

  test('with the upstream stopped, docker rmi and pull again: served from the cache', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    await upstream.stop();
    const seenUpstream = upstream.logs.length;
    for (const [repository, image] of kinds()) {
      const name = through(repository);
      // The first test may have been skipped or failed: make sure the image is there to remove.
      ok(await docker.run(['pull', name], TIMEOUT));
      ok(await docker.run(['rmi', '--force', await imageId(name)], TIMEOUT));
      const pulled = ok(await docker.run(['pull', name], TIMEOUT));
      assert.equal(pullDigest(pulled.stdout), image.manifest.digest, `pull of ${repository} from the cache`);
      assert.match(pulled.stdout, /Status: Downloaded newer image/);
      assert.equal(await imageId(name), image.blobs[0]?.digest);
    }
    assert.equal(upstream.logs.length, seenUpstream, 'the stopped upstream answered nothing');
  });

  test('the proxy answered no 5xx', () => {
    assert.deepEqual(
      proxy.logs.filter((entry) => entry.status >= 500),
      [],
    );
  });
});
