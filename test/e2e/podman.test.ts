// podman (no daemon, private vfs storage) against a real broken-reg: it pulls images skopeo put into
// broken/prepared (OCI, Docker v2, one platform of an index), and what it pushes back skopeo reads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, startRegistry, type TestRegistry, serverErrors } from '../helpers/registry.js';
import { createPodman, createSkopeo, missingTools, ok, requireTools, Scope, type Podman, type Skopeo } from '../helpers/clients.js';
import { buildTestImages, readOciLayout, type TestImage, type TestImages } from '../helpers/images.js';

describe('podman with broken/prepared', { timeout: 150_000 }, () => {
  const scope = new Scope();
  let registry: TestRegistry;
  let images: TestImages;
  let work: string;
  let skopeo: Skopeo;
  let podman: Podman;

  before(async () => {
    registry = await startRegistry(scope.context);
    work = await makeTempDir(scope.context, 'broken-reg-e2e-podman-');
    images = await buildTestImages(work);
    if (missingTools('skopeo', 'podman').length > 0) return;
    skopeo = await createSkopeo(scope, [registry.host]);
    podman = await createPodman(scope, [registry.host]);
    ok(await skopeo.copy(`oci:${images.layout}:oci`, ref('oci', 'v1', 'docker://'), ['--preserve-digests']));
    ok(await skopeo.copy(`dir:${images.dirs.docker}`, ref('docker', 'v1', 'docker://'), ['--preserve-digests']));
    ok(await skopeo.copy(`oci:${images.layout}:multi`, ref('multi', 'v1', 'docker://'), ['--preserve-digests', '--all']));
  });
  after(() => scope.close());

  function ref(repository: string, tag: string, transport = ''): string {
    return `${transport}${registry.host}/broken/prepared/podman/${repository}:${tag}`;
  }

  const hex = (digest: string) => digest.slice('sha256:'.length);
  const configOf = (image: TestImage) => image.blobs[0]?.digest ?? '';

  /** The image ID and the manifest digest podman records for a local image. */
  async function localImage(name: string): Promise<{ id: string; digest: string }> {
    const out = ok(await podman.run(['image', 'inspect', '--format', '{{.Id}} {{.Digest}}', name])).stdout.trim();
    const [id = '', digest = ''] = out.split(' ');
    return { id, digest };
  }

  test('pulls an OCI image that skopeo pushed', async (t) => {
    if (!requireTools(t, 'skopeo', 'podman')) return;
    const pulled = ok(await podman.pull(ref('oci', 'v1')));
    assert.equal(pulled.stdout.trim().split('\n').pop(), hex(configOf(images.oci)), 'pull prints the image ID (config digest)');
    assert.deepEqual(await localImage(ref('oci', 'v1')), { id: hex(configOf(images.oci)), digest: images.oci.manifest.digest });
  });

  test('pulls a Docker v2 schema 2 image', async (t) => {
    if (!requireTools(t, 'skopeo', 'podman')) return;
    ok(await podman.pull(ref('docker', 'v1')));
    assert.deepEqual(await localImage(ref('docker', 'v1')), {
      id: hex(configOf(images.docker)),
      digest: images.docker.manifest.digest,
    });
  });

  test('pulls each platform of a two-platform index with --arch', async (t) => {
    if (!requireTools(t, 'skopeo', 'podman')) return;
    for (const child of images.index.children) {
      const arch = child.platform?.architecture ?? '';
      ok(await podman.pull(ref('multi', 'v1'), ['--arch', arch]));
      const local = await localImage(ref('multi', 'v1'));
      assert.equal(local.id, hex(configOf(child)), `--arch ${arch} pulls the ${arch} image`);
    }
  });

  test('pushes a tagged image (OCI and Docker v2 formats) that skopeo then reads, and pulls it back', async (t) => {
    if (!requireTools(t, 'skopeo', 'podman')) return;
    ok(await podman.pull(ref('oci', 'v1')));
    for (const format of ['oci', 'v2s2'] as const) {
      const target = ref('pushed', format);
      ok(await podman.run(['tag', ref('oci', 'v1'), target]));
      const digestFile = path.join(work, `podman-${format}.digest`);
      ok(await podman.push(target, ['--format', format, '--digestfile', digestFile]));
      const pushedDigest = (await fs.readFile(digestFile, 'utf8')).trim();

      const info = JSON.parse(ok(await skopeo.inspect(`docker://${target}`)).stdout) as { Digest: string };
      assert.equal(info.Digest, pushedDigest, 'skopeo sees the digest podman pushed');
      const manifest = JSON.parse(ok(await skopeo.inspect(`docker://${target}`, ['--raw'])).stdout) as { mediaType: string };
      const expectedType = format === 'oci' ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
      assert.equal(manifest.mediaType, expectedType);
      // podman recompresses the layers, so the layer digests change; the content (diff_ids) must not.
      const config = JSON.parse(ok(await skopeo.inspect(`docker://${target}`, ['--config', '--raw'])).stdout) as {
        rootfs: { diff_ids: string[] };
      };
      const original = JSON.parse(images.oci.blobs[0]?.bytes.toString('utf8') ?? '{}') as { rootfs: { diff_ids: string[] } };
      assert.deepEqual(config.rootfs.diff_ids, original.rootfs.diff_ids);

      // Every blob podman pushed comes back out hashing to its digest.
      const out = path.join(work, `podman-pushed-${format}`);
      ok(await skopeo.copy(`docker://${target}`, `oci:${out}:copy`, format === 'oci' ? ['--preserve-digests'] : []));
      const found = await readOciLayout(out, 'copy');
      if (format === 'oci') assert.equal(found.digest, pushedDigest);
      assert.equal(found.blobs.length, 3);

      // Pull it back into an empty store, so nothing local stands in for the registry.
      ok(await podman.run(['rmi', '--all', '--force']));
      ok(await podman.pull(target));
      assert.deepEqual(await localImage(target), { id: hex(configOf(images.oci)), digest: pushedDigest }, 'pulled back');
      ok(await podman.pull(ref('oci', 'v1')));
    }
  });

  test('the registry answered no 5xx', () => {
    const failures = serverErrors(registry.logs);
    assert.deepEqual(failures, []);
  });
});
