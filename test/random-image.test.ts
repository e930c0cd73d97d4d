// broken/random images: pinned digests, checked by an independent route (node:zlib gunzip, tar-stream,
// fresh sha256s), determinism, distinct seeds and layers, and bounded memory on a big layer.
import { measuringSink } from './helpers/measuring-sink.js';
import { readTar } from './helpers/random-tree.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import {
  generateRandomImage,
  layerBlobSize,
  layerStream,
  MAX_CHUNK_BYTES,
  MemoryBlobSink,
  type BlobSink,
  type RandomImage,
  type RandomImageParams,
} from '../src/images/random/index.js';
import { layerByteSource, xoshiro128StarStar } from '../src/images/random/byte-source.js';
import { crc32 } from '../src/images/random/crc32.js';
import { crc32Table } from './helpers/crc32-table.js';
import { tarFileHeader } from '../src/images/random/tar.js';

interface Golden {
  params: RandomImageParams;
  manifest: string;
  config: string;
  layers: { digest: string; diffId: string; size: number }[];
}

// Computed once, checked by verifyImage below (and with GNU gzip -t, GNU tar and Python's tarfile by
// hand), then pinned. A change here changes every broken/random image users have pulled: don't.
const GOLDEN: Golden[] = [
  {
    params: { layers: 1, size: 1024, seed: 0 },
    manifest: 'sha256:74c40758cffe6cd21d3729c90a2edba699d0134ec81e42bc7c6c97ec8861cd21',
    config: 'sha256:21f692d794fe6469c4ebecdbe9d4bea1410f1e9ebaf601bde48ff57ea371d9f4',
    layers: [
      {
        digest: 'sha256:0778b0c679bf01a102494145d349721736cc34812284c31af90e6c1634bcf791',
        diffId: 'sha256:968b4d9d71bd0f1c264646bf82256498da19c38f237e091fa0d271053608b8ca',
        size: 2583,
      },
    ],
  },
  {
    params: { layers: 3, size: 1024, seed: 7 },
    manifest: 'sha256:5b01a463677c4c2ce8500d0e29ad219f513f514281c6d59ed09209e2a45ff59a',
    config: 'sha256:ed7d3c965f1975465cb08c3a243a569bc09824a0f00b7cf948958dc7fb66f912',
    layers: [
      {
        digest: 'sha256:0f277df59e23e713314363ba26a2e3012c727b7074d6d64272a500349b836928',
        diffId: 'sha256:cda62944af50e7655e5cfefbcf2b2ace31fe153f5f2132427c3849669100840a',
        size: 2583,
      },
      {
        digest: 'sha256:6b91adc1d0e6753c0c7663013f267863e8911bb03f4a6654764ff2523b0642df',
        diffId: 'sha256:430417c589a63f14cb4ad66581f14803a8d31231cb0d73096e5d8c2e2a165413',
        size: 2583,
      },
      {
        digest: 'sha256:4bbbe76f50ba21123b2048d5b0ef3f95489f062ee698fed21f1c44c10d0933c4',
        diffId: 'sha256:acd68d23cb948c5c904f2380971c796d91b4cde0a73255909b9a1303bc22b311',
        size: 2583,
      },
    ],
  },
  {
    params: { layers: 2, size: 0, seed: 0 },
    manifest: 'sha256:e9e00233e9e77f22bcd20f721978e7fa37fab4f9f7aacae3b0ef21e9da52072e',
    config: 'sha256:b0e95988e3cc8b66d3161e6fe00a3407c07d71c02a9ba81deab6491e237eb313',
    layers: [
      {
        digest: 'sha256:dd54988958f4cdf81009310706ca30ab080f139ea220b6b9750e96d64954dea2',
        diffId: 'sha256:201b9e4d17cf0832512c94e0be2d4b1819a26df12793b9de5be8be577717b16e',
        size: 1559,
      },
      {
        digest: 'sha256:66ce5c238039ea1062cbb2be78d8bd76e6488ec4dbeca8772a3e8167771906cc',
        diffId: 'sha256:737cac3b182aecc5a00b9401b73cfa2e1220f65accde840e2cf5c6bc9a7cadbe',
        size: 1559,
      },
    ],
  },
];

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function generate(params: RandomImageParams): Promise<{ image: RandomImage; sink: MemoryBlobSink }> {
  const sink = new MemoryBlobSink();
  return { image: await generateRandomImage(params, sink), sink };
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Everything a client would check, computed afresh from the stored bytes. */
async function verifyImage(image: RandomImage, sink: MemoryBlobSink): Promise<void> {
  const { layers, size } = image.params;
  assert.equal(image.manifestDigest, sha256(image.manifest));
  const manifest = JSON.parse(image.manifest.toString('utf8'));
  assert.equal(manifest.schemaVersion, 2);
  assert.equal(manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(image.mediaType, manifest.mediaType);
  assert.equal(manifest.config.mediaType, 'application/vnd.docker.container.image.v1+json');
  assert.equal(manifest.layers.length, layers);

  const configBytes = sink.get(manifest.config.digest);
  assert.equal(sha256(configBytes), manifest.config.digest);
  assert.equal(configBytes.length, manifest.config.size);
  const config = JSON.parse(configBytes.toString('utf8'));
  assert.equal(config.architecture, 'amd64');
  assert.equal(config.os, 'linux');
  assert.equal(config.created, '1970-01-01T00:00:00Z');
  assert.equal(config.rootfs.type, 'layers');
  assert.equal(config.history.length, layers);

  for (const [index, descriptor] of manifest.layers.entries()) {
    assert.equal(descriptor.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
    const blob = sink.get(descriptor.digest);
    assert.equal(sha256(blob), descriptor.digest);
    assert.equal(blob.length, descriptor.size);
    assert.equal(blob.length, layerBlobSize(size));
    // gzip header: deflate, no flags, mtime 0, OS unknown.
    assert.deepEqual([...blob.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    const tarBytes = zlib.gunzipSync(blob);
    assert.equal(sha256(tarBytes), config.rootfs.diff_ids[index], `diff_id of layer ${index}`);
    assert.equal(blob.readUInt32LE(blob.length - 8), crc32Table(tarBytes));
    const entries = await readTar(tarBytes);
    assert.equal(entries.length, 1);
    const [entry] = entries;
    assert.ok(entry);
    assert.deepEqual(
      { name: entry.name, type: entry.type, size: entry.size, mode: entry.mode, uid: entry.uid, gid: entry.gid, mtime: entry.mtime },
      { name: `random-${index}.bin`, type: 'file', size, mode: 0o644, uid: 0, gid: 0, mtime: 0 },
    );
    assert.equal(entry.content.length, size);
    assert.deepEqual(image.layers[index], { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size, diffId: sha256(tarBytes) });
  }
}

describe('generateRandomImage', () => {
  for (const golden of GOLDEN) {
    const { layers, size, seed } = golden.params;
    it(`makes the pinned image for layers-${layers}_size-${size}_seed-${seed}`, async () => {
      const { image, sink } = await generate(golden.params);
      await verifyImage(image, sink);
      assert.equal(image.manifestDigest, golden.manifest);
      assert.equal(image.config.digest, golden.config);
      assert.deepEqual(
        image.layers.map(({ digest, diffId, size: bytes }) => ({ digest, diffId, size: bytes })),
        golden.layers,
      );
    });
  }

  it('builds valid layers across chunk boundaries and odd sizes', async () => {
    const { image, sink } = await generate({ layers: 2, size: 2 * 1048560 + 3, seed: 3 });
    await verifyImage(image, sink);
  });

  it('is deterministic: the same params give the same bytes', async () => {
    const params = { layers: 3, size: 5000, seed: 42 };
    const first = await generate(params);
    const second = await generate(params);
    assert.deepEqual(first.image.manifest, second.image.manifest);
    assert.deepEqual([...first.sink.blobs.entries()], [...second.sink.blobs.entries()]);
  });

  it('makes different images for different seeds, and different layers within one', async () => {
    const a = await generate({ layers: 3, size: 4096, seed: 1 });
    const b = await generate({ layers: 3, size: 4096, seed: 2 });
    const digests = [...a.image.layers, ...b.image.layers].map((layer) => layer.digest);
    assert.equal(new Set(digests).size, 6);
    const contents = new Set<string>();
    for (const { image, sink } of [a, b]) {
      for (const layer of image.layers) {
        const [entry] = await readTar(zlib.gunzipSync(sink.get(layer.digest)));
        contents.add(entry?.content.toString('hex') ?? '');
      }
    }
    assert.equal(contents.size, 6);
  });

  it('shares layer i between images of the same seed and size (as real base layers do)', async () => {
    const two = await generate({ layers: 2, size: 1000, seed: 5 });
    const three = await generate({ layers: 3, size: 1000, seed: 5 });
    assert.deepEqual(two.image.layers, three.image.layers.slice(0, 2));
    assert.notEqual(two.image.manifestDigest, three.image.manifestDigest);
  });

  it('regenerates one layer by itself with layerStream', async () => {
    const params = { layers: 3, size: 3000, seed: 9 };
    const { image, sink } = await generate(params);
    const stream = layerStream(params, 2);
    assert.equal(stream.size, image.layers[2]?.size);
    const bytes = await collect(stream);
    assert.equal(sha256(bytes), image.layers[2]?.digest);
    assert.deepEqual(stream.digests, { digest: image.layers[2]?.digest, size: image.layers[2]?.size, diffId: image.layers[2]?.diffId });
    assert.deepEqual(bytes, sink.get(image.layers[2]?.digest ?? ''));
    assert.throws(() => layerStream(params, 3), RangeError);
  });

  it('writes content that is a prefix-stable stream of the seed and layer', async () => {
    const small = layerStream({ layers: 1, size: 1048560 + 1, seed: 4 }, 0);
    const large = layerStream({ layers: 1, size: 3 * 1048560 + 2, seed: 4 }, 0);
    const [a] = await readTar(zlib.gunzipSync(await collect(small)));
    const [b] = await readTar(zlib.gunzipSync(await collect(large)));
    assert.ok(a && b);
    assert.deepEqual(a.content, b.content.subarray(0, a.content.length));
    const direct = Buffer.alloc(a.content.length);
    layerByteSource(4, 0).fill(direct);
    assert.deepEqual(a.content, direct);
  });

  it('refuses a sink that stores something else', async () => {
    const lying: BlobSink = {
      async writeBlob(stream) {
        for await (const chunk of stream) void chunk;
        return { digest: `sha256:${'0'.repeat(64)}`, size: 1 };
      },
    };
    await assert.rejects(generateRandomImage({ layers: 1, size: 1, seed: 0 }, lying), /sink stored/);
    await assert.rejects(generateRandomImage({ layers: 1, size: -1, seed: 0 }, new MemoryBlobSink()), RangeError);
  });

  it('streams a 64 MiB layer in bounded chunks and bounded memory', async () => {
    const counting = measuringSink();
    const image = await generateRandomImage({ layers: 1, size: 64 * 1024 * 1024, seed: 1 }, counting);
    assert.equal(image.layers[0]?.size, layerBlobSize(64 * 1024 * 1024));
    assert.ok(counting.chunks >= 64, `${counting.chunks} chunks`);
    assert.ok(counting.largest <= MAX_CHUNK_BYTES && MAX_CHUNK_BYTES < 1.01 * 1024 * 1024, `largest chunk ${counting.largest}`);
    // A chunk or two in flight, plus what V8 has not released yet: far from the 64 MiB of the blob.
    assert.ok(counting.peak < 32 * 1024 * 1024, `external memory grew by ${counting.peak} bytes`);
  });
});

describe('building blocks', () => {
  it('xoshiro128** gives the reference outputs for state 1, 2, 3, 4', () => {
    const bytes = new Uint8Array(40);
    xoshiro128StarStar(new Uint32Array([1, 2, 3, 4])).fill(bytes);
    const view = new DataView(bytes.buffer);
    const words = Array.from({ length: 10 }, (_, i) => view.getUint32(i * 4, true));
    assert.deepEqual(words, [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
  });

  it('CRC-32 in JavaScript matches zlib, whole and incremental', () => {
    const data = randomBytes(100_003);
    const expected = zlib.crc32(data);
    assert.equal(crc32Table(data), expected);
    assert.equal(crc32Table(data.subarray(7), crc32Table(data.subarray(0, 7))), expected);
    assert.equal(crc32(data), expected);
    assert.equal(crc32Table(Buffer.from('123456789')), 0xcbf43926);
  });

  it('writes sizes past 8 GiB in base-256', () => {
    const header = tarFileHeader('x', 2 ** 33 + 5);
    assert.equal(header[124], 0x80);
    assert.equal(header.readUIntBE(130, 6), 2 ** 33 + 5);
    assert.equal(tarFileHeader('x', 8 ** 11 - 1).toString('latin1', 124, 136), '77777777777\u0000');
  });
});
