// broken/random's shape keys (format, platforms, comp, files, attest): pinned digests, each image
// checked from its bytes by independent routes (helpers/random-tree.ts: node:zlib, Debian's zstd,
// tar-stream, fresh sha256s), distinct platform images, byte-stable zstd, and the tag grammar.
import { measuringSink } from './helpers/measuring-sink.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatRandomTag,
  generateRandomImage,
  layerBlobSize,
  MAX_CHUNK_BYTES,
  MemoryBlobSink,
  parseRandomTag,
  resolveParams,
  type BlobSink,
  type RandomImage,
} from '../src/images/random/index.js';
import { layerByteSource } from '../src/images/random/byte-source.js';
import { ParamError } from '../src/params/tag-params.js';
import { checkRandomTree, DEFAULT_SHAPE, zstdDecompress, type Fetcher, type Shape } from './helpers/random-tree.js';
import { requireTools } from './helpers/run.js';

// Computed once, checked by checkRandomTree below (and by hand with GNU tar, zstd -lv and skopeo),
// then pinned. The top digest covers every manifest, config and layer below it. Don't change them.
const GOLDEN: [tag: string, digest: string][] = [
  ['layers-1_size-1024_format-oci', 'sha256:4c92fbdb41d7deb9d94b9eb4b583456984111c01114fba651148ff81a07fa15f'],
  ['layers-1_size-1024_comp-zstd', 'sha256:23567d0a95fdc16fe434c43414d42684fa6f9d084f77130da8844934c6fe1660'],
  ['layers-1_size-1024_comp-none', 'sha256:139bfbaa1550d99378fc70fe20eee188a48283d96cc1d46860292989965ee9f8'],
  ['layers-1_size-1024_format-oci_comp-none', 'sha256:389bdf8a39c09c8fd61d4b9c8bcb275b86333eee9960693d180216447d86e4b9'],
  ['layers-2_size-3001_seed-5_files-3', 'sha256:ce3f582cc3cc9bb7d5a8aa16917598963cd162fe54d001bc2bcc96a89b2ff8b7'],
  ['layers-1_size-1024_platforms-2', 'sha256:c78fe94fe61212b46d57a850d710a17023e965437da193dbf9817f779bf5b5e3'],
  ['layers-1_size-1024_format-oci_platforms-8', 'sha256:a966c51baf8368df4b7fdf0576b86f51db31e27de7f99d52529c4d2425059d39'],
  ['layers-1_size-1024_attest-1', 'sha256:316901787d8ae0d95acf2d14745137b255fa5c4acb469d6e96eb0e5fd213500a'],
  ['layers-2_size-1k_format-oci_platforms-4_comp-zstd', 'sha256:7cf103a43105ff17d8942871773097101df15c6d2447976bd154762c3d54adda'],
];

/** Today's layers-1_size-1024: its one layer, and that layer's tar (the diff_id). */
const GOLDEN_LAYER = 'sha256:0778b0c679bf01a102494145d349721736cc34812284c31af90e6c1634bcf791';
const GOLDEN_DIFF_ID = 'sha256:968b4d9d71bd0f1c264646bf82256498da19c38f237e091fa0d271053608b8ca';

async function generate(tag: string): Promise<{ image: RandomImage; sink: MemoryBlobSink; shape: Shape; fetch: Fetcher }> {
  const params = parseRandomTag(tag, { maxLayers: 1000, maxRandomSize: 1024 ** 3 });
  const sink = new MemoryBlobSink();
  const image = await generateRandomImage(params, sink);
  const { layers, size, format, platforms, comp, files, attest } = resolveParams(params);
  const children = new Map(image.children.map((child) => [child.manifestDigest, child]));
  const fetch: Fetcher = {
    async manifest(digest) {
      const child = children.get(digest);
      assert.ok(child, `child manifest ${digest} is among the children`);
      return { bytes: child.manifest, mediaType: child.mediaType };
    },
    blob: async (digest) => sink.get(digest),
  };
  return { image, sink, shape: { ...DEFAULT_SHAPE, layers, size, format, platforms, comp, files, attest }, fetch };
}

async function check(tag: string) {
  const generated = await generate(tag);
  const { image, shape, fetch } = generated;
  const tree = await checkRandomTree({ bytes: image.manifest, mediaType: image.mediaType, digest: image.manifestDigest }, shape, fetch);
  return { ...generated, tree };
}

describe('broken/random shape keys', () => {
  for (const [tag, digest] of GOLDEN) {
    it(`makes the pinned image for ${tag}`, async (t) => {
      if (tag.includes('zstd') && !requireTools(t, 'zstd')) return;
      const { image, tree } = await check(tag);
      assert.equal(image.manifestDigest, digest);
      assert.equal(tree.digest, digest);
    });
  }

  it('keeps the layers of today’s image wherever the key does not change them', async () => {
    // format-oci: the same config and layer blobs, other media types.
    const oci = await generate('layers-1_size-1024_format-oci');
    assert.equal(oci.image.layers[0]?.digest, GOLDEN_LAYER);
    // comp-none: the layer is the tar itself, so its digest is the diff_id.
    const none = await generate('layers-1_size-1024_comp-none');
    assert.deepEqual([none.image.layers[0]?.digest, none.image.layers[0]?.diffId], [GOLDEN_DIFF_ID, GOLDEN_DIFF_ID]);
    // comp-zstd: other blob, same tar.
    const zstd = await generate('layers-1_size-1024_comp-zstd');
    assert.equal(zstd.image.layers[0]?.diffId, GOLDEN_DIFF_ID);
    assert.notEqual(zstd.image.layers[0]?.digest, GOLDEN_LAYER);
    // An index's linux/amd64 image is the image of the same tag without platforms.
    const plain = await generate('layers-2_size-1k_format-oci_comp-zstd');
    const index = await generate('layers-2_size-1k_format-oci_platforms-4_comp-zstd');
    assert.equal(index.image.images[0]?.manifestDigest, plain.image.manifestDigest);
  });

  it('makes each platform of an index a distinct image, its config naming its platform', async () => {
    const { tree } = await check('layers-2_size-4k_format-oci_platforms-8_seed-3');
    assert.equal(tree.images.length, 8);
    assert.equal(new Set(tree.images.map((image) => image.digest)).size, 8);
    const layers = tree.images.flatMap((image) => image.layers);
    assert.equal(new Set(layers.map((layer) => layer.digest)).size, 16, 'no layer shared between platforms');
    assert.equal(new Set(layers.map((layer) => layer.entries[0]?.content.toString('hex'))).size, 16, 'different file contents');
    assert.deepEqual(
      tree.images.map(({ config }) => [config.os, config.architecture, config.variant ?? ''].filter(Boolean).join('/')),
      ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'linux/ppc64le', 'linux/s390x', 'linux/386', 'linux/riscv64', 'windows/amd64'],
    );
  });

  it('makes a Docker manifest list with platforms in docker format', async () => {
    const { image, tree } = await check('layers-1_size-1k_platforms-3');
    assert.equal(image.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
    assert.equal(tree.images.length, 3);
  });

  it('adds one attestation per image after the images, as buildx does, and implies an OCI index', async () => {
    const { image, tree } = await check('layers-1_size-1k_platforms-3_attest-1');
    assert.equal(image.mediaType, 'application/vnd.oci.image.index.v1+json');
    assert.equal(tree.attestations.size, 3);
    for (const checked of tree.images) assert.ok(tree.attestations.get(checked.digest), `an attestation of ${checked.digest}`);
    const alone = await generate('layers-1_size-1k_attest-1');
    const spelled = await generate('layers-1_size-1k_format-oci_platforms-1_attest-1');
    assert.equal(alone.image.manifestDigest, spelled.image.manifestDigest);
    assert.equal(alone.image.attestations.length, 1);
  });

  it('splits the layer stream over files-N: the concatenated files are the stream of files-1', async () => {
    const size = 3 * 1048560 + 7; // spans several chunks, and words cut at file boundaries
    const [one, many] = await Promise.all([check(`layers-1_size-${size}_seed-2`), check(`layers-1_size-${size}_seed-2_files-7`)]);
    const entries = many.tree.images[0]?.layers[0]?.entries ?? [];
    assert.equal(entries.length, 7);
    assert.deepEqual(
      entries.map((entry) => entry.size),
      [449384, 449384, 449384, 449384, 449384, 449384, 449383],
    );
    const joined = Buffer.concat(entries.map((entry) => entry.content));
    assert.deepEqual(joined, one.tree.images[0]?.layers[0]?.entries[0]?.content);
    const direct = Buffer.alloc(size);
    layerByteSource(2, 0).fill(direct);
    assert.deepEqual(joined, direct);
    // More files than bytes: empty files, still a valid tar.
    const { tree } = await check('layers-1_size-3_files-5');
    assert.deepEqual(tree.images[0]?.layers[0]?.entries.map((entry) => entry.size), [1, 1, 1, 0, 0]);
  });

  it('writes zstd that Debian’s zstd reads, across raw block and chunk boundaries', async (t) => {
    if (!requireTools(t, 'zstd')) return;
    for (const size of [0, 131072 - 512 - 1024, 2 * 1048576 + 13]) {
      const { image, sink, tree } = await check(`layers-1_size-${size}_comp-zstd_seed-4`);
      const blob = sink.get(image.layers[0]?.digest ?? '');
      assert.equal(blob.length, layerBlobSize(size, 1, 'zstd'));
      assert.deepEqual(await zstdDecompress(blob), tree.images[0]?.layers[0]?.tar);
      // Frame header: 8-byte content size holding the tar length, 128 KiB window, no checksum.
      assert.deepEqual([blob[4], blob[5]], [0xc0, 0x38]);
      assert.equal(Number(blob.readBigUInt64LE(6)), tree.images[0]?.layers[0]?.tar.length);
    }
  });

  it('is deterministic for every key', async () => {
    const tag = 'layers-2_size-5000_seed-9_format-oci_platforms-2_comp-zstd_files-3_attest-1';
    const [a, b] = await Promise.all([generate(tag), generate(tag)]);
    assert.equal(a.image.manifestDigest, b.image.manifestDigest);
    assert.deepEqual([...a.sink.blobs.entries()], [...b.sink.blobs.entries()]);
    assert.deepEqual(a.image.children, b.image.children);
  });

  it('streams a 64 MiB zstd layer in bounded chunks and bounded memory', async () => {
    const counting = measuringSink();
    const size = 64 * 1024 * 1024;
    const image = await generateRandomImage({ layers: 1, size, seed: 1, comp: 'zstd', format: 'oci', platforms: 2 }, counting);
    assert.equal(image.images[1]?.layers[0]?.size, layerBlobSize(size, 1, 'zstd'));
    assert.ok(counting.largest <= MAX_CHUNK_BYTES && MAX_CHUNK_BYTES < 1.01 * 1024 * 1024, `largest chunk ${counting.largest}`);
    assert.ok(counting.peak < 32 * 1024 * 1024, `external memory grew by ${counting.peak} bytes`);
  });
});

describe('broken/random shape grammar', () => {
  it('parses every key into the normal form, defaults left out, and formats the canonical tag', () => {
    assert.deepEqual(parseRandomTag('layers-1_size-1k_format-docker_comp-gzip_files-1_attest-0'), { layers: 1, size: 1024, seed: 0 });
    assert.deepEqual(parseRandomTag('comp-zstd_platforms-4_format-oci_size-1m_layers-3_files-10'), {
      layers: 3,
      size: 1024 ** 2,
      seed: 0,
      format: 'oci',
      platforms: 4,
      comp: 'zstd',
      files: 10,
    });
    assert.deepEqual(parseRandomTag('layers-1_size-1_attest-1'), { layers: 1, size: 1, seed: 0, format: 'oci', platforms: 1, attest: true });
    for (const tag of ['layers-3_size-1k_seed-7_format-oci_platforms-2_comp-none_files-4_attest-1', 'layers-1_size-1k_comp-zstd']) {
      assert.equal(formatRandomTag(parseRandomTag(tag)), tag);
    }
    assert.equal(formatRandomTag(parseRandomTag('attest-1_size-1024_layers-2')), 'layers-2_size-1k_format-oci_platforms-1_attest-1');
  });

  it('refuses bad values naming the parameter', () => {
    for (const [tag, param] of [
      ['layers-1_size-1_format-tar', 'format'],
      ['layers-1_size-1_platforms-0', 'platforms'],
      ['layers-1_size-1_platforms-9', 'platforms'],
      ['layers-1_size-1_comp-lz4', 'comp'],
      ['layers-1_size-1_files-0', 'files'],
      ['layers-1_size-1_files-10001', 'files'],
      ['layers-1_size-1_attest-2', 'attest'],
      ['layers-1_size-1_attest-1_format-docker', 'attest'],
    ] as const) {
      assert.throws(() => parseRandomTag(tag), (error: ParamError) => error instanceof ParamError && error.param === param, tag);
    }
  });

  it('makes a layer of 1000 files that tar-stream reads back', async () => {
    const { tree } = await check('layers-1_size-10k_files-1000');
    const entries = tree.images[0]?.layers[0]?.entries ?? [];
    assert.equal(entries.length, 1000);
    assert.equal(entries[999]?.name, 'random-0-999.bin');
  });
});
