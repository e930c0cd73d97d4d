// broken/random generation, measured: through the real server (first manifest request until every
// blob is stored) against the bare pipeline floor measured in the same run, and peak RSS while the
// server generates a 1 GiB layer. Targets: at most 1.5x the floor, under 200 MB.
//
// Bare: the byte counts alone (randomFillSync, two sha256, zlib.crc32, a write stream), no tar or
// gzip framing and no copies: about as fast as this work can go in Node.
// Reference ("floor"): for each of 3 layers of 100 MiB, the simplest pipeline a person would write with
// stock parts, independent of src/images/random: crypto.randomFillSync chunks -> tar-stream ->
// sha256 -> zlib gzip level 0 -> sha256 -> fs.createWriteStream to a temp file.
// Ours: the same 3 layers from RandomLayerStream (seeded PRNG, hand-framed tar and gzip, both sha256)
// written to a temp file; then the whole generateRandomImage with a sink that hashes again, as the
// store does. Then the server again for an OCI index of 4 platforms with zstd layers,
// layers-3_size-25m_format-oci_platforms-4_comp-zstd: 12 layers of 25 MiB, the same 300 MiB of content
// as the floor, so the same floor is its reference. Runs N rounds (argv[2], default 3), each measuring
// everything once in turn; prints each median (the best beside it) and the median of the per-round
// ratios ours / floor.
//
//   npm run bench:random [-- runs]      (node dist/bench/random.js [runs])
import { createHash, randomFillSync, type Hash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { generateRandomImage, layerStream, type BlobSink, type RandomImageParams } from '../src/images/random/index.js';
import { startServe } from './serve-process.js';

const PARAMS: RandomImageParams = { layers: 3, size: 100 * 1024 * 1024, seed: 0 };
/** 4 images of 3 layers of 25 MiB: the floor's 300 MiB of content, as an OCI index of zstd layers. */
const INDEX_TAG = 'layers-3_size-25m_format-oci_platforms-4_comp-zstd';
const CHUNK = 1024 * 1024;
const MIB = 1024 * 1024;

function hashing(hash: Hash): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
}

function* randomChunks(size: number): Generator<Buffer> {
  for (let left = size; left > 0; left -= CHUNK) yield randomFillSync(Buffer.allocUnsafe(Math.min(CHUNK, left)));
}

/** The floor: one layer through stock parts. */
async function floorLayer(size: number, file: string): Promise<void> {
  const tarHash = createHash('sha256');
  const gzipHash = createHash('sha256');
  const pack = tar.pack();
  const written = pipeline(pack, hashing(tarHash), zlib.createGzip({ level: 0 }), hashing(gzipHash), fs.createWriteStream(file));
  const entry = pack.entry({ name: 'random.bin', size, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 });
  await pipeline(Readable.from(randomChunks(size)), entry);
  pack.finalize();
  await written;
  tarHash.digest('hex');
  gzipHash.digest('hex');
}

/** The bare floor: the same byte counts through randomFill, 2 sha256 and a CRC, to a file, no framing. */
async function bareLayer(size: number, file: string): Promise<void> {
  const tarHash = createHash('sha256');
  const gzipHash = createHash('sha256');
  let crc = 0;
  function* chunks(): Generator<Buffer> {
    for (let left = size + 1536; left > 0; left -= CHUNK) {
      const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(CHUNK, left)));
      tarHash.update(chunk);
      crc = zlib.crc32(chunk, crc);
      gzipHash.update(chunk);
      yield chunk;
    }
  }
  await pipeline(Readable.from(chunks()), fs.createWriteStream(file));
  tarHash.digest('hex');
  gzipHash.digest('hex');
}

async function bare(dir: string): Promise<void> {
  for (let i = 0; i < PARAMS.layers; i++) await bareLayer(PARAMS.size, path.join(dir, `bare-${i}.bin`));
}

async function floor(dir: string): Promise<void> {
  for (let i = 0; i < PARAMS.layers; i++) await floorLayer(PARAMS.size, path.join(dir, `floor-${i}.tgz`));
}

/** Ours, the same work: each layer stream (which hashes tar and gzip itself) to a file. */
async function oursLayers(dir: string): Promise<void> {
  for (let i = 0; i < PARAMS.layers; i++) {
    const stream = layerStream(PARAMS, i);
    await pipeline(Readable.from(stream), fs.createWriteStream(path.join(dir, `ours-${i}.tgz`)));
    if (!stream.digests) throw new Error('layer stream did not finish');
  }
}

/** Ours, end to end: generateRandomImage into a sink that writes a file and hashes again, like the store. */
async function oursImage(dir: string): Promise<void> {
  let n = 0;
  const sink: BlobSink = {
    async writeBlob(stream) {
      const hash = createHash('sha256');
      let size = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      });
      await pipeline(Readable.from(stream), counter, fs.createWriteStream(path.join(dir, `image-${n++}`)));
      return { digest: `sha256:${hash.digest('hex')}`, size };
    },
  };
  await generateRandomImage(PARAMS, sink);
}

interface Measured {
  label: string;
  work: (dir: string) => Promise<void | number>;
  times: number[];
}

/** One run of work in a fresh temp dir; work may return the milliseconds that count (e.g. without a server's start-up). */
async function timeOnce(work: Measured['work']): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'random-floor-'));
  try {
    const start = performance.now();
    const counted = await work(dir);
    return counted ?? performance.now() - start;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[half] as number) : ((sorted[half - 1] as number) + (sorted[half] as number)) / 2;
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  const load = () => os.loadavg().map((n) => n.toFixed(1)).join(' ');
  console.log(`layers-3_size-100m (${(PARAMS.layers * PARAMS.size) / MIB} MiB of content), ${runs} rounds, ${os.cpus().length} CPUs, Node ${process.version}, load ${load()}`);
  const measured: Measured[] = [
    { label: 'bare: randomFill + 2 sha256 + crc32 + write, no framing', work: bare, times: [] },
    { label: 'floor: randomFill + tar-stream + 2 sha256 + gzip -0 + write', work: floor, times: [] },
    { label: 'ours: layerStream x3 (PRNG + tar + 2 sha256 + gzip) + write', work: oursLayers, times: [] },
    { label: 'ours: generateRandomImage, sink hashing again + write', work: oursImage, times: [] },
    { label: 'serve: GET broken/random:layers-3_size-100m until stored', work: (dir) => throughServer(dir, 'layers-3_size-100m'), times: [] },
    { label: `serve: GET broken/random:${INDEX_TAG}`, work: (dir) => throughServer(dir, INDEX_TAG), times: [] },
  ];
  // Rounds interleave the measurements, so a burst of load on the shared machine hits all of them
  // alike; each ratio is the median of the ratios within a round.
  for (let round = 0; round < runs; round++) {
    for (const item of measured) item.times.push(await timeOnce(item.work));
  }
  const mib = (PARAMS.layers * PARAMS.size) / MIB;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  for (const { label, times } of measured) {
    const middle = medianOf(times);
    console.log(`${label.padEnd(76)} ${seconds(middle).padStart(7)} s  ${(mib / (middle / 1000)).toFixed(0).padStart(5)} MiB/s  (best ${seconds(Math.min(...times))} s)`);
  }
  const [bareRun, floorRun, layersRun, imageRun, serveRun, indexRun] = measured.map((item) => item.times) as number[][];
  const ratio = (ours: number[] = [], reference: number[] = []) => medianOf(ours.map((ms, i) => ms / (reference[i] as number))).toFixed(2);
  console.log(`ratio ours/floor: layers ${ratio(layersRun, floorRun)}, whole image ${ratio(imageRun, floorRun)}`);
  console.log(`ratio ours/bare:  layers ${ratio(layersRun, bareRun)}, whole image ${ratio(imageRun, bareRun)}`);
  console.log(`ratio serve/floor: ${ratio(serveRun, floorRun)} (target <= 1.5); serve/bare: ${ratio(serveRun, bareRun)}`);
  console.log(`ratio serve/floor, ${INDEX_TAG}: ${ratio(indexRun, floorRun)} (target <= 1.5); serve/bare: ${ratio(indexRun, bareRun)}`);
  console.log(`load after the rounds: ${load()}`);
  await peakRssOfOneGiB();
}

/** The server generating on its first manifest request; it answers once every blob is stored. */
async function throughServer(dir: string, tag: string): Promise<number> {
  const server = await startServe(path.join(dir, 'store'));
  try {
    const start = performance.now();
    const response = await fetch(`${server.url}/v2/broken/random/manifests/${tag}`, { signal: AbortSignal.timeout(120_000) });
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    await response.arrayBuffer();
    return performance.now() - start;
  } finally {
    await server.stop();
  }
}

/** Peak RSS of the server process while it generates layers-1_size-1g, sampled and from VmHWM. */
async function peakRssOfOneGiB(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'random-rss-'));
  const server = await startServe(path.join(dir, 'store'));
  try {
    const before = server.rss();
    let sampled = 0;
    const timer = setInterval(() => (sampled = Math.max(sampled, server.rss())), 20);
    const start = performance.now();
    const response = await fetch(`${server.url}/v2/broken/random/manifests/layers-1_size-1g`, { signal: AbortSignal.timeout(300_000) });
    await response.arrayBuffer();
    clearInterval(timer);
    const seconds = (performance.now() - start) / 1000;
    const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
    console.log(
      `layers-1_size-1g through serve: ${seconds.toFixed(2)} s; RSS at start ${mb(before)} MB, peak ${mb(Math.max(sampled, server.peakRss()))} MB (target < 200 MB)`,
    );
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
