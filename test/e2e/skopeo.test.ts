// skopeo against a real broken-reg: images built offline go into broken/prepared and come back out
// byte-identical (same manifest digest, every blob file hashing to its digest), through the OCI,
// Docker v2 and multi-platform paths; inspect and list-tags read what was pushed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, startRegistry, type TestRegistry, serverErrors } from '../helpers/registry.js';
import { createSkopeo, missingTools, ok, requireTool, Scope, type Skopeo } from '../helpers/clients.js';
import {
  buildTestImages,
  expectedBlobs,
  readDirImage,
  readOciLayout,
  type FoundImage,
  type TestImage,
  type TestImages,
} from '../helpers/images.js';

const TEST_TIMEOUT = 120_000;

describe('skopeo with broken/prepared', { timeout: TEST_TIMEOUT }, () => {
  const scope = new Scope();
  let registry: TestRegistry;
  let images: TestImages;
  let work: string;
  let skopeo: Skopeo;

  before(async () => {
    registry = await startRegistry(scope.context);
    work = await makeTempDir(scope.context, 'broken-reg-e2e-skopeo-');
    images = await buildTestImages(work);
    if (missingTools('skopeo').length === 0) skopeo = await createSkopeo(scope, [registry.host]);
  });
  after(() => scope.close());

  const remote = (repository: string, tag: string) => `docker://${registry.host}/broken/prepared/${repository}:${tag}`;

  /** The manifest and every blob the registry serves for the reference match the built image. */
  async function assertServed(repository: string, reference: string, image: TestImage): Promise<void> {
    const base = `${registry.url}/v2/broken/prepared/${repository}`;
    const response = await fetch(`${base}/manifests/${reference}`, {
      headers: { Accept: image.manifest.mediaType },
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(response.status, 200, `GET manifest ${reference}`);
    assert.equal(response.headers.get('content-type'), image.manifest.mediaType);
    assert.equal(response.headers.get('docker-content-digest'), image.manifest.digest);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(image.manifest.bytes), 'manifest bytes as pushed');
    for (const blob of [...image.children.map((child) => child.manifest), ...image.blobs]) {
      const kind = image.children.some((child) => child.manifest.digest === blob.digest) ? 'manifests' : 'blobs';
      const got = await fetch(`${base}/${kind}/${blob.digest}`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(got.status, 200, `GET ${kind} ${blob.digest}`);
      assert.ok(Buffer.from(await got.arrayBuffer()).equals(blob.bytes), `${blob.digest} bytes as pushed`);
    }
  }

  function assertSameImage(found: FoundImage, image: TestImage, where: string): void {
    assert.equal(found.digest, image.manifest.digest, `${where}: manifest digest`);
    assert.ok(found.manifest.equals(image.manifest.bytes), `${where}: manifest bytes`);
    assert.deepEqual(found.blobs, expectedBlobs(image), `${where}: blob digests`);
  }

  async function digestFile(name: string): Promise<{ flags: string[]; read: () => Promise<string> }> {
    const file = path.join(work, `${name}.digest`);
    return { flags: ['--digestfile', file], read: async () => (await fs.readFile(file, 'utf8')).trim() };
  }

  /** Pushes `source` to broken/prepared/<repository>:v1, then copies it back out to oci: and dir:. */
  async function roundTrip(source: string, repository: string, image: TestImage, multi: string[] = []): Promise<void> {
    const digest = await digestFile(repository);
    ok(await skopeo.copy(source, remote(repository, 'v1'), ['--preserve-digests', ...multi, ...digest.flags]));
    assert.equal(await digest.read(), image.manifest.digest, 'digest skopeo reports for the push');
    await assertServed(repository, 'v1', image);

    const outLayout = path.join(work, `out-${repository}-oci`);
    ok(await skopeo.copy(remote(repository, 'v1'), `oci:${outLayout}:copied`, ['--preserve-digests', ...multi]));
    assertSameImage(await readOciLayout(outLayout, 'copied'), image, 'oci: copy');

    const outDir = path.join(work, `out-${repository}-dir`);
    ok(await skopeo.copy(remote(repository, 'v1'), `dir:${outDir}`, ['--preserve-digests', ...multi]));
    assertSameImage(await readDirImage(outDir), image, 'dir: copy');
  }

  test('copies a single-platform OCI image in and out byte-identical', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    await roundTrip(`oci:${images.layout}:oci`, 'oci', images.oci);
  });

  test('copies a Docker v2 schema 2 image in and out byte-identical, keeping the Docker media types', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    // skopeo 1.9 does not read a Docker manifest out of an OCI layout, so the source is a dir: copy.
    await roundTrip(`dir:${images.dirs.docker}`, 'docker', images.docker);
    const raw = ok(await skopeo.inspect(remote('docker', 'v1'), ['--raw'])).stdout;
    assert.equal(JSON.parse(raw).mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  });

  test('copies a two-platform OCI index with --all / --multi-arch all, every platform byte-identical', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    await roundTrip(`oci:${images.layout}:multi`, 'multi', images.index, ['--multi-arch', 'all']);
    // --all, the older spelling, into another tag: the same index digest.
    ok(await skopeo.copy(`oci:${images.layout}:multi`, remote('multi', 'all'), ['--preserve-digests', '--all']));
    await assertServed('multi', 'all', images.index);
    for (const child of images.index.children) await assertServed('multi', child.manifest.digest, child);
  });

  test('inspect and inspect --raw read the pushed manifests and configs', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    ok(await skopeo.copy(`oci:${images.layout}:oci`, remote('inspect', 'v1'), ['--preserve-digests']));
    ok(await skopeo.copy(`oci:${images.layout}:multi`, remote('inspect', 'multi'), ['--preserve-digests', '--all']));

    const raw = ok(await skopeo.inspect(remote('inspect', 'v1'), ['--raw'])).stdout;
    assert.ok(Buffer.from(raw).equals(images.oci.manifest.bytes), 'inspect --raw prints the manifest as pushed');
    const config = ok(await skopeo.inspect(remote('inspect', 'v1'), ['--config', '--raw'])).stdout;
    assert.ok(Buffer.from(config).equals(images.oci.blobs[0]?.bytes ?? Buffer.alloc(0)), 'inspect --config --raw prints the config');

    const info = JSON.parse(ok(await skopeo.inspect(remote('inspect', 'v1'))).stdout) as Record<string, unknown>;
    assert.equal(info.Digest, images.oci.manifest.digest);
    assert.equal(info.Architecture, 'amd64');
    assert.equal(info.Os, 'linux');
    assert.deepEqual(info.Layers, images.oci.blobs.slice(1).map((blob) => blob.digest));
    assert.deepEqual(info.RepoTags, ['multi', 'v1']);

    const indexRaw = ok(await skopeo.inspect(remote('inspect', 'multi'), ['--raw'])).stdout;
    assert.ok(Buffer.from(indexRaw).equals(images.index.manifest.bytes), 'inspect --raw prints the index as pushed');
    for (const child of images.index.children) {
      const arch = child.platform?.architecture ?? '';
      const chosen = ok(await skopeo.run(['--override-arch', arch, '--override-os', 'linux', 'inspect', '--tls-verify=false', '--retry-times', '0', remote('inspect', 'multi')])).stdout;
      const parsed = JSON.parse(chosen) as Record<string, unknown>;
      assert.equal(parsed.Architecture, arch, `inspect picks the ${arch} manifest`);
      assert.deepEqual(parsed.Layers, child.blobs.slice(1).map((blob) => blob.digest));
    }
  });

  test('list-tags lists every tag pushed to a repository, also after a registry-to-registry copy', async (t) => {
    if (!requireTool(t, 'skopeo')) return;
    ok(await skopeo.copy(`oci:${images.layout}:oci`, remote('tags', 'b'), ['--preserve-digests']));
    // Registry to registry: pulls from broken/prepared and pushes back into it.
    ok(await skopeo.copy(remote('tags', 'b'), remote('tags', 'a'), ['--preserve-digests']));
    ok(await skopeo.copy(remote('tags', 'a'), remote('tags', 'c'), ['--preserve-digests']));
    const listed = JSON.parse(ok(await skopeo.listTags(`docker://${registry.host}/broken/prepared/tags`)).stdout) as {
      Repository: string;
      Tags: string[];
    };
    assert.equal(listed.Repository, `${registry.host}/broken/prepared/tags`);
    assert.deepEqual([...listed.Tags].sort(), ['a', 'b', 'c']);
    await assertServed('tags', 'c', images.oci);
  });

  test('the registry answered no 5xx', () => {
    assert.deepEqual(serverErrors(registry.logs), []);
  });
});
