// Benchmark: `broken-reg prepare` of a 1 GiB OCI layout tar, against the same image going into CNCF
// distribution (`skopeo copy oci-archive:... docker://...` to /usr/bin/docker-registry) and against
// plain `tar -xf` of the file (the floor: reading and writing the bytes once).
//
//   node dist/bench/prepare.js [--size 1g] [--layers 4]
//
// Everything lives in one temp dir, removed at the end; every child process has a time limit, and
// the registry is stopped by its PID. The tarball stays in the page cache for all three (it was just
// written), and `sync` runs before each step, so none pays for the previous one's writes.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { startDistribution } from './reference.js';


const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/broken-reg.js');
const STEP_TIMEOUT_MS = 15 * 60 * 1000;

interface Blob {
  digest: string;
  size: number;
}

async function main(): Promise<void> {
  const size = parseSize(flag('--size') ?? '1g');
  const layerCount = Number(flag('--layers') ?? '4');
  for (const tool of ['skopeo', 'docker-registry', 'tar']) {
    if (!(await onPath(tool))) throw new Error(`${tool} is not installed (Debian: skopeo, docker-registry, tar)`);
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'broken-reg-bench-'));
  try {
    const tarball = path.join(dir, 'image.tar');
    let started = performance.now();
    await buildLayoutTar(dir, tarball, size, layerCount);
    const tarSize = (await fs.stat(tarball)).size;
    console.log(`built ${tarball}: ${mib(tarSize).toFixed(1)} MiB, ${layerCount} layers, in ${seconds(performance.now() - started)}`);

    await run('sync', []); // each step starts with no dirty pages left by the one before
    started = performance.now();
    await run(process.execPath, [BIN, 'prepare', tarball, '--tag', 'bench', '--store', path.join(dir, 'store')]);
    const prepareMs = performance.now() - started;

    const distributionMs = await withDistribution(dir, async (host) => {
      const policy = path.join(dir, 'policy.json');
      await fs.writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
      await fs.mkdir(path.join(dir, 'skopeo-tmp'));
      await fs.mkdir(path.join(dir, 'registries.d'));
      await run('sync', []);
      const begin = performance.now();
      await run('skopeo', [
        '--policy', policy, '--registries.d', path.join(dir, 'registries.d'), '--tmpdir', path.join(dir, 'skopeo-tmp'),
        'copy', '--quiet', '--retry-times', '0', '--dest-tls-verify=false',
        `oci-archive:${tarball}:bench`, `docker://${host}/broken/prepared:bench`,
      ], { HOME: dir, TMPDIR: path.join(dir, 'skopeo-tmp') });
      return performance.now() - begin;
    });

    const extracted = path.join(dir, 'extracted');
    await fs.mkdir(extracted);
    await run('sync', []);
    started = performance.now();
    await run('tar', ['-xf', tarball, '-C', extracted]);
    const tarMs = performance.now() - started;

    const rate = (ms: number) => `${(mib(tarSize) / (ms / 1000)).toFixed(0)} MiB/s`;
    console.log(`broken-reg prepare:                ${seconds(prepareMs)} (${rate(prepareMs)})`);
    console.log(`skopeo copy -> distribution 2.8:   ${seconds(distributionMs)} (${rate(distributionMs)})`);
    console.log(`tar -xf (floor):                   ${seconds(tarMs)} (${rate(tarMs)})`);
    console.log(`prepare vs distribution: ${(prepareMs / distributionMs).toFixed(2)}x the time`);
    console.log(`prepare vs tar -xf:      ${(prepareMs / tarMs).toFixed(2)}x the time`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Writes an OCI layout (layers: gzip level 0 of random bytes, so they are real gzip streams that
 * skopeo copies as they are; config; manifest; index.json naming "bench"), then tars it.
 */
async function buildLayoutTar(dir: string, tarball: string, size: number, layerCount: number): Promise<void> {
  const layout = path.join(dir, 'layout');
  const blobs = path.join(layout, 'blobs', 'sha256');
  await fs.mkdir(blobs, { recursive: true });
  const pattern = randomBytes(16 << 20);
  const layers: Blob[] = [];
  for (let i = 0; i < layerCount; i++) {
    const layerSize = Math.floor(size / layerCount);
    const temp = path.join(layout, `layer-${i}`);
    const hash = createHash('sha256');
    let written = 0;
    await pipeline(
      async function* () {
        for (let offset = 0; offset < layerSize; offset += pattern.length) {
          const chunk = Buffer.from(pattern.subarray(0, Math.min(pattern.length, layerSize - offset)));
          chunk.writeUInt32BE(i, 0);
          chunk.writeUInt32BE(offset / pattern.length, 4);
          yield chunk;
        }
      },
      createGzip({ level: 0, chunkSize: 1 << 20 }),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          written += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(temp),
    );
    const hex = hash.digest('hex');
    await fs.rename(temp, path.join(blobs, hex));
    layers.push({ digest: `sha256:${hex}`, size: written });
  }
  const writeJson = async (value: unknown): Promise<Blob> => {
    const bytes = Buffer.from(JSON.stringify(value));
    const hex = createHash('sha256').update(bytes).digest('hex');
    await fs.writeFile(path.join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const config = await writeJson({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((_, i) => `sha256:${createHash('sha256').update(`layer ${i}`).digest('hex')}`) },
  });
  const manifest = await writeJson({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((layer) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer })),
  });
  await fs.writeFile(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await fs.writeFile(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }],
    }),
  );
  await run('tar', ['-cf', tarball, '-C', layout, 'oci-layout', 'index.json', 'blobs']);
  await fs.rm(layout, { recursive: true, force: true });
}

/** Runs work against a CNCF distribution registry on a free port, stopped by PID afterwards. */
async function withDistribution<T>(dir: string, work: (host: string) => Promise<T>): Promise<T> {
  const distribution = await startDistribution(dir);
  try {
    return await work(new URL(distribution.url).host);
  } finally {
    await distribution.stop();
  }
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      timeout: STEP_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(file)} ${args.slice(0, 3).join(' ')}... failed (${code ?? signal}):\n${stderr}`)),
    );
  });
}


async function onPath(tool: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && (await fs.access(path.join(dir, tool)).then(() => true, () => false))) return true;
  }
  return false;
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function parseSize(text: string): number {
  const match = /^(\d+)([kmg]?)$/i.exec(text);
  if (!match) throw new Error(`--size ${text}: whole bytes, or with k, m, g`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase()] ?? 1;
  return Number(match[1]) * unit;
}

const mib = (bytes: number) => bytes / (1 << 20);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

await main().catch((error: unknown) => {
  console.error(`bench/prepare: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
