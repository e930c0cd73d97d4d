// docker (the harness's own dockerd: private socket, vfs, no iptables) against a real broken-reg:
// pulls of images in broken/prepared, "Image is up to date" on the second pull, pushes of a loaded
// image (layers docker compresses itself) and of a pulled one (layers mounted), each pulled back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTempDir, startRegistry, type TestRegistry, serverErrors } from '../helpers/registry.js';
import {
  createSkopeo,
  missingTools,
  ok,
  requireTools,
  Scope,
  startDockerd,
  type Docker,
  type Skopeo,
} from '../helpers/clients.js';
import { buildTestImages, readOciLayout, sha256, type TestImage, type TestImages } from '../helpers/images.js';

const TOOLS = ['docker', 'dockerd', 'skopeo'];

describe('docker with broken/prepared', { timeout: 180_000 }, () => {
  const scope = new Scope();
  let registry: TestRegistry;
  let images: TestImages;
  let work: string;
  let skopeo: Skopeo;
  let docker: Docker;

  before(async () => {
    registry = await startRegistry(scope.context);
    work = await makeTempDir(scope.context, 'broken-reg-e2e-docker-');
    images = await buildTestImages(work);
    if (missingTools(...TOOLS).length > 0) return;
    skopeo = await createSkopeo(scope, [registry.host]);
    // One dockerd for the file. 127.0.0.0/8 is insecure (plain HTTP) by default; the flag stays anyway.
    docker = await startDockerd(scope, { insecureRegistries: [registry.host] });
    ok(await skopeo.copy(`oci:${images.layout}:oci`, `docker://${ref('oci', 'v1')}`, ['--preserve-digests']));
    ok(await skopeo.copy(`dir:${images.dirs.docker}`, `docker://${ref('docker', 'v1')}`, ['--preserve-digests']));
    ok(await skopeo.copy(`oci:${images.layout}:multi`, `docker://${ref('multi', 'v1')}`, ['--preserve-digests', '--all']));
  });
  after(() => scope.close());

  function ref(repository: string, tag: string): string {
    return `${registry.host}/broken/prepared/docker-e2e/${repository}:${tag}`;
  }

  const configOf = (image: TestImage) => image.blobs[0]?.digest ?? '';

  function pullDigest(output: string): string | undefined {
    return /^Digest: (sha256:[a-f0-9]{64})$/m.exec(output)?.[1];
  }

  function pushDigest(output: string): string | undefined {
    return /: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(output)?.[1];
  }

  async function imageId(name: string): Promise<string> {
    return ok(await docker.run(['image', 'inspect', '--format', '{{.Id}}', name])).stdout.trim();
  }

  /** skopeo copies what docker pushed back out; every blob must hash to its digest. */
  async function assertPushedIntact(name: string, digest: string): Promise<void> {
    const raw = ok(await skopeo.inspect(`docker://${name}`, ['--raw'])).stdout;
    assert.equal(sha256(Buffer.from(raw)), digest, 'the registry serves the manifest docker pushed');
    const out = path.join(work, `pushed-${digest.slice(7, 19)}`);
    ok(await skopeo.copy(`docker://${name}`, `oci:${out}:copy`, ['--preserve-digests']));
    const found = await readOciLayout(out, 'copy');
    assert.equal(found.digest, digest);
    const config = JSON.parse(ok(await skopeo.inspect(`docker://${name}`, ['--config', '--raw'])).stdout) as {
      rootfs: { diff_ids: string[] };
    };
    const original = JSON.parse(images.oci.blobs[0]?.bytes.toString('utf8') ?? '{}') as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(config.rootfs.diff_ids, original.rootfs.diff_ids, 'same layer content as the built image');
  }

  test('dockerd treats the registry as insecure (127.0.0.0/8 by default, and the flag)', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const cidrs = ok(await docker.run(['info', '--format', '{{json .RegistryConfig.InsecureRegistryCIDRs}}'])).stdout;
    assert.ok((JSON.parse(cidrs) as string[]).includes('127.0.0.0/8'), `insecure CIDRs: ${cidrs}`);
    const indexes = ok(await docker.run(['info', '--format', '{{json .RegistryConfig.IndexConfigs}}'])).stdout;
    const index = (JSON.parse(indexes) as Record<string, { Secure: boolean }>)[registry.host];
    assert.equal(index?.Secure, false, `${registry.host} is configured insecure`);
  });

  // First, before docker has pulled anything: a loaded image has no known blobs in any registry, so
  // docker gzips and uploads every layer itself.
  test('pushes a loaded image (docker compresses and uploads the layers) and pulls it back', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const archive = path.join(work, 'loaded.tar');
    ok(await skopeo.copy(`oci:${images.layout}:oci`, `docker-archive:${archive}:local/loaded:v1`));
    ok(await docker.run(['load', '--input', archive]));
    const target = ref('loaded', 'v1');
    ok(await docker.run(['tag', 'local/loaded:v1', target]));
    const pushed = ok(await docker.run(['push', target]));
    const digest = pushDigest(pushed.stdout);
    assert.ok(digest, `push prints a digest:\n${pushed.stdout}`);
    const uploads = registry.logs.filter((e) => e.method === 'PUT' && e.path.includes('/docker-e2e/loaded/blobs/uploads/'));
    assert.ok(uploads.length >= 3, 'config and both layers were uploaded, not mounted');
    await assertPushedIntact(target, digest);

    ok(await docker.run(['rmi', '--force', await imageId(target)]));
    const pulled = ok(await docker.run(['pull', target]));
    assert.equal(pullDigest(pulled.stdout), digest);
    assert.match(pulled.stdout, /Downloaded newer image/);
  });

  test('pulls OCI and Docker v2 images; a second pull is up to date with the same digest', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    for (const [repository, image] of [['oci', images.oci], ['docker', images.docker]] as const) {
      const name = ref(repository, 'v1');
      const first = ok(await docker.run(['pull', name]));
      assert.equal(pullDigest(first.stdout), image.manifest.digest, `first pull of ${repository}`);
      assert.match(first.stdout, /Status: Downloaded newer image/);
      assert.equal(await imageId(name), configOf(image), 'the image ID is the config digest');

      const second = ok(await docker.run(['pull', name]));
      assert.equal(pullDigest(second.stdout), image.manifest.digest, `second pull of ${repository}`);
      assert.match(second.stdout, /Status: Image is up to date for /);
    }
  });

  test('pulls each platform of a two-platform OCI index with --platform', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    for (const child of images.index.children) {
      const platform = `${child.platform?.os}/${child.platform?.architecture}`;
      const pulled = ok(await docker.run(['pull', '--platform', platform, ref('multi', 'v1')]));
      assert.equal(pullDigest(pulled.stdout), images.index.manifest.digest, 'docker reports the index digest');
      assert.equal(await imageId(ref('multi', 'v1')), configOf(child), `${platform} pulls its own image`);
    }
  });

  test('pushes a pulled image under broken/prepared:<name> and pulls it back', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const source = ref('oci', 'v1');
    ok(await docker.run(['pull', source]));
    const target = `${registry.host}/broken/prepared:docker-pushed`;
    ok(await docker.run(['tag', source, target]));
    const pushed = ok(await docker.run(['push', target]));
    const digest = pushDigest(pushed.stdout);
    assert.ok(digest, `push prints a digest:\n${pushed.stdout}`);
    await assertPushedIntact(target, digest);

    // Remove the image under every name, so the pull has to fetch it.
    ok(await docker.run(['rmi', '--force', await imageId(target)]));
    const pulled = ok(await docker.run(['pull', target]));
    assert.equal(pullDigest(pulled.stdout), digest);
    assert.match(pulled.stdout, /Downloaded newer image/);
    assert.equal(await imageId(target), configOf(images.oci));
  });

  test('the registry answered no 5xx', () => {
    assert.deepEqual(serverErrors(registry.logs), []);
  });
});
