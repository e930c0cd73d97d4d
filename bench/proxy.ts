// Benchmark: one 1 GiB blob pulled through the proxy from a local CNCF distribution, cold (fetched
// upstream, streamed to the client and the store at once) and warm (from the store), each printed as
// a ratio against pulling the same blob from distribution directly in the same run.
// The proxy runs in its own process (this file with --serve-proxy), as distribution does, so the
// measuring client never shares a thread with the server it measures.
// Run: npx tsc -p . && node dist/bench/proxy.js [size-in-MiB]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadavg } from 'node:os';
import type { TestContext } from 'node:test';
import { Agent, request } from 'undici';
import { makeTempDir } from '../test/helpers/registry.js';
import { startDistribution, startProxy } from '../test/helpers/proxy.js';

const SERVE = process.argv[2] === '--serve-proxy';
const SIZE = Number((SERVE ? undefined : process.argv[2]) ?? 1024) * 1024 * 1024;
const NAME = 'bench/big';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** The test helpers register cleanups on a TestContext; the bench runs them at the end. */
const cleanups: (() => unknown)[] = [];
const context = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext;

async function writeRandomFile(file: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await fs.open(file, 'w');
  const chunk = Buffer.alloc(8 << 20);
  for (let written = 0; written < size; written += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, size - written));
    randomFillSync(part);
    hash.update(part);
    await handle.write(part);
  }
  await handle.close();
  return `sha256:${hash.digest('hex')}`;
}

async function upload(base: string, file: string, digest: string, size: number): Promise<void> {
  const started = await request(`${base}/v2/${NAME}/blobs/uploads/`, { method: 'POST' });
  await started.body.dump();
  const location = new URL(String(started.headers.location), base);
  location.searchParams.set('digest', digest);
  const done = await request(location, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body: createReadStream(file, { highWaterMark: 1 << 20 }),
  });
  await done.body.dump();
  if (done.statusCode !== 201) throw new Error(`upload answered ${done.statusCode}`);
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc (0 elsewhere). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
}

/** Pulls and notes the CPU seconds each process spent on it. */
async function measuredPull(url: string, size: number, pids: Record<string, number>) {
  const before = await Promise.all(Object.values(pids).map(cpuSeconds));
  const seconds = await timedPull(url, size);
  const after = await Promise.all(Object.values(pids).map(cpuSeconds));
  const cpu = Object.keys(pids).map((name, i) => `${name} ${((after[i] ?? 0) - (before[i] ?? 0)).toFixed(2)}`);
  return { seconds, cpu: cpu.join(' ') };
}

/** GETs url, discarding the body; returns seconds. */
async function timedPull(url: string, size: number): Promise<number> {
  const agent = new Agent();
  const start = process.hrtime.bigint();
  const response = await request(url, { dispatcher: agent });
  let received = 0;
  for await (const chunk of response.body) received += (chunk as Buffer).length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await agent.close();
  if (response.statusCode !== 200 || received !== size) throw new Error(`${url}: ${response.statusCode}, ${received} of ${size} bytes`);
  return seconds;
}

function mibps(seconds: number): string {
  return `${(SIZE / 1024 / 1024 / seconds).toFixed(0)} MiB/s`;
}

async function main(): Promise<void> {
  const dir = await makeTempDir(context, 'broken-reg-bench-');
  const distribution = await startDistribution(context);
  const file = path.join(dir, 'blob');
  const digest = await writeRandomFile(file, SIZE);
  await upload(distribution.url, file, digest, SIZE);
  await fs.rm(file);
  const direct = `${distribution.url}/v2/${NAME}/blobs/${digest}`;
  await timedPull(direct, SIZE); // warms distribution's page cache
  // Rounds interleave direct and proxied pulls, so load from elsewhere on the machine hits both alike;
  // each round starts a fresh proxy (empty store) for the cold pull. The medians are reported.
  const rounds: { direct: number; cold: number; warm: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const pids = { client: process.pid, distribution: distribution.pid };
    const first = await measuredPull(direct, SIZE, pids);
    const proxy = await spawnProxy(distribution.host);
    const through = `${proxy.url}/v2/${NAME}/blobs/${digest}`;
    const coldPull = await measuredPull(through, SIZE, { ...pids, proxy: proxy.pid });
    const warmPull = await measuredPull(through, SIZE, { ...pids, proxy: proxy.pid });
    const last = await measuredPull(direct, SIZE, pids);
    const [before, cold, warm, after] = [first.seconds, coldPull.seconds, warmPull.seconds, last.seconds];
    if (process.env.BENCH_CPU) {
      console.log(`  cpu seconds: direct (${first.cpu}) (${last.cpu}), cold (${coldPull.cpu}), warm (${warmPull.cpu}); load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    }
    await proxy.stop();
    const directSeconds = Math.min(before, after);
    rounds.push({ direct: directSeconds, cold, warm });
    console.log(
      `round ${round + 1}: direct ${directSeconds.toFixed(2)}s ${mibps(directSeconds)}, cold ${cold.toFixed(2)}s ${mibps(cold)} ` +
        `(${(directSeconds / cold).toFixed(2)}x), warm ${warm.toFixed(2)}s ${mibps(warm)} (${(directSeconds / warm).toFixed(2)}x)`,
    );
  }
  const coldRatio = median(rounds.map((r) => r.direct / r.cold));
  const warmRatio = median(rounds.map((r) => r.direct / r.warm));
  console.log(`blob: ${SIZE} bytes (${SIZE / 1024 / 1024} MiB) from CNCF distribution 2.8 on 127.0.0.1, ${ROUNDS} rounds, median ratios`);
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`direct: ${mibps(median(rounds.map((r) => r.direct)))}`);
  console.log(`proxy cold: ${coldRatio.toFixed(2)}x direct (target >= 0.7x)`);
  console.log(`proxy warm: ${warmRatio.toFixed(2)}x direct (target >= 1.0x)`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Starts this file as a proxy server in a child process; resolves with its URL. */
async function spawnProxy(upstream: string): Promise<{ url: string; pid: number; stop(): Promise<unknown> }> {
  const child = spawn(process.execPath, [...nodeArgs(), fileURLToPath(import.meta.url), '--serve-proxy', upstream], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  cleanups.push(stop);
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /PROXY (\S+)/.exec(chunk.toString());
      if (match?.[1]) resolve({ url: match[1], pid: child.pid ?? 0, stop });
    });
    child.once('exit', (code) => reject(new Error(`proxy exited with ${code}`)));
  });
}

/** Extra node flags for the proxy process, e.g. BENCH_PROXY_NODE_ARGS="--cpu-prof". */
function nodeArgs(): string[] {
  return (process.env.BENCH_PROXY_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

async function serveProxy(upstream: string): Promise<void> {
  const proxy = await startProxy(context, { flags: { upstream, upstreamInsecure: [upstream] } });
  process.stdout.write(`PROXY ${proxy.url}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
}

try {
  if (SERVE) await serveProxy(process.argv[3] ?? '');
  else await main();
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
