// Benchmark: one 1 GiB blob pulled through the proxy from a local CNCF distribution, cold (fetched
// upstream, streamed to the client and the store at once) and warm (from the store), each printed as
// a ratio against pulling the same blob from distribution directly in the same run.
// The proxy runs in its own process (this file with --serve-proxy), as distribution does, so the
// measuring client (curl to /dev/null) never shares a thread with the server it measures.
// Two more references show what any proxy costs on this machine: a bare relay (a Node process that
// pipes the upstream's answer to the client and does nothing else: no hash, no store), and writing the
// blob to a new file on the store's filesystem (time and CPU). A cold pull pays for the relay's hop,
// that write and a sha256 of every byte, on the same cores as the client and distribution.
// Run: npx tsc -p . && node dist/bench/proxy.js [size-in-MiB]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import type { TestContext } from 'node:test';
import { request } from 'undici';
import { download } from './load.js';
import { makeTempDir } from '../test/helpers/registry.js';
import { startDistribution, startProxy } from '../test/helpers/proxy.js';

const SERVE = process.argv[2] === '--serve-proxy' || process.argv[2] === '--serve-relay';
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

/**
 * CPU seconds (user + system, all threads, and the children it has waited for: the client's curl) a
 * process has used so far, from /proc (0 elsewhere).
 */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((sum, field) => sum + Number(fields[field] ?? 0), 0) / 100;
}

/** Pulls and notes the CPU seconds each process spent on it (cpuTotal: all of them together). */
async function measuredPull(url: string, size: number, pids: Record<string, number>) {
  const before = await Promise.all(Object.values(pids).map(cpuSeconds));
  const seconds = await timedPull(url, size);
  const after = await Promise.all(Object.values(pids).map(cpuSeconds));
  const spent = Object.keys(pids).map((_, i) => (after[i] ?? 0) - (before[i] ?? 0));
  const cpu = Object.keys(pids).map((name, i) => `${name} ${(spent[i] ?? 0).toFixed(2)}`);
  return { seconds, cpu: cpu.join(' '), cpuTotal: spent.reduce((a, b) => a + b, 0) };
}

/**
 * The floor of any cold path that stores the blob: writing SIZE bytes to a new file on the store's
 * filesystem (8 MiB writes of one reused buffer, so nothing but the write is measured). Returns its
 * wall-clock and CPU seconds (this process, all threads: the writes run in libuv's thread pool).
 */
async function fileWriteFloor(dir: string): Promise<{ seconds: number; cpu: number }> {
  const file = path.join(dir, 'floor');
  const chunk = randomFillSync(Buffer.alloc(8 << 20));
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  const handle = await fs.open(file, 'wx');
  for (let written = 0; written < SIZE; written += chunk.length) {
    await handle.write(chunk, 0, Math.min(chunk.length, SIZE - written), written);
  }
  await handle.close();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  await fs.rm(file);
  return { seconds, cpu: (cpu.user + cpu.system) / 1e6 };
}

/** CPU seconds sha256 takes over SIZE bytes here (the proxy must hash every byte it stores). */
function hashSeconds(): number {
  const chunk = randomFillSync(Buffer.alloc(8 << 20));
  const hash = createHash('sha256');
  const before = process.cpuUsage();
  for (let hashed = 0; hashed < SIZE; hashed += chunk.length) hash.update(chunk.subarray(0, Math.min(chunk.length, SIZE - hashed)));
  hash.digest();
  const cpu = process.cpuUsage(before);
  return (cpu.user + cpu.system) / 1e6;
}

/** GETs url with curl to /dev/null (as bench:registry does), checking status and length; returns seconds. */
async function timedPull(url: string, size: number): Promise<number> {
  return (await download(url, 1, size)).seconds;
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
  const hashCpu = hashSeconds();
  const rounds: { direct: number; relay: number; cold: number; warm: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const pids = { client: process.pid, distribution: distribution.pid };
    const first = await measuredPull(direct, SIZE, pids);
    const relay = await spawnServer('--serve-relay', distribution.url);
    const relayPull = await measuredPull(`${relay.url}/v2/${NAME}/blobs/${digest}`, SIZE, { ...pids, relay: relay.pid });
    await relay.stop();
    const proxy = await spawnServer('--serve-proxy', distribution.host);
    const through = `${proxy.url}/v2/${NAME}/blobs/${digest}`;
    const coldPull = await measuredPull(through, SIZE, { ...pids, proxy: proxy.pid });
    const warmPull = await measuredPull(through, SIZE, { ...pids, proxy: proxy.pid });
    await proxy.stop();
    const floor = await fileWriteFloor(dir);
    const last = await measuredPull(direct, SIZE, pids);
    const directSeconds = Math.min(first.seconds, last.seconds);
    const [cold, warm] = [coldPull.seconds, warmPull.seconds];
    rounds.push({ direct: directSeconds, relay: relayPull.seconds, cold, warm });
    if (process.env.BENCH_CPU) {
      console.log(`  cpu seconds: direct (${first.cpu}) (${last.cpu}), relay (${relayPull.cpu}), cold (${coldPull.cpu}), warm (${warmPull.cpu})`);
    }
    console.log(
      `round ${round + 1}: direct ${directSeconds.toFixed(2)}s ${mibps(directSeconds)} (${first.cpuTotal.toFixed(2)} CPU-s), ` +
        `bare relay ${relayPull.seconds.toFixed(2)}s (${(directSeconds / relayPull.seconds).toFixed(2)}x, ${relayPull.cpuTotal.toFixed(2)} CPU-s), ` +
        `cold ${cold.toFixed(2)}s ${mibps(cold)} (${(directSeconds / cold).toFixed(2)}x, ${coldPull.cpuTotal.toFixed(2)} CPU-s), ` +
        `warm ${warm.toFixed(2)}s ${mibps(warm)} (${(directSeconds / warm).toFixed(2)}x); ` +
        `a new ${SIZE / 1024 / 1024} MiB file ${floor.seconds.toFixed(2)}s (${floor.cpu.toFixed(2)} CPU-s); load ${loadavg()[0]?.toFixed(1)}`,
    );
  }
  const ratio = (pick: (r: (typeof rounds)[number]) => number) => median(rounds.map((r) => r.direct / pick(r))).toFixed(2);
  console.log(`blob: ${SIZE} bytes (${SIZE / 1024 / 1024} MiB) from CNCF distribution 2.8 on 127.0.0.1, ${ROUNDS} rounds, median ratios`);
  console.log(`sha256 of the blob: ${hashCpu.toFixed(2)} CPU-s; load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`direct: ${mibps(median(rounds.map((r) => r.direct)))}`);
  console.log(`bare relay (pipe only, no hash, no store): ${ratio((r) => r.relay)}x direct`);
  console.log(`proxy cold: ${ratio((r) => r.cold)}x direct (target >= 0.7x)`);
  console.log(`proxy warm: ${ratio((r) => r.warm)}x direct (target >= 1.0x)`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Starts this file as a proxy (--serve-proxy) or bare relay (--serve-relay) in a child process. */
async function spawnServer(mode: string, upstream: string): Promise<{ url: string; pid: number; stop(): Promise<unknown> }> {
  const child = spawn(process.execPath, [...nodeArgs(), fileURLToPath(import.meta.url), mode, upstream], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  cleanups.push(stop);
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /SERVING (\S+)/.exec(chunk.toString());
      if (match?.[1]) resolve({ url: match[1], pid: child.pid ?? 0, stop });
    });
    child.once('exit', (code) => reject(new Error(`${mode} exited with ${code}`)));
  });
}

/** Extra node flags for the proxy process, e.g. BENCH_PROXY_NODE_ARGS="--cpu-prof". */
function nodeArgs(): string[] {
  return (process.env.BENCH_PROXY_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

async function serveProxy(upstream: string): Promise<void> {
  const proxy = await startProxy(context, { flags: { upstream, upstreamInsecure: [upstream] } });
  process.stdout.write(`SERVING ${proxy.url}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
}

/** The least a proxy can do: pass each request to the upstream and pipe the answer back. */
async function serveRelay(upstream: string): Promise<void> {
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const forward = http.get(`${upstream}${req.url ?? '/'}`, { agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  process.stdout.write(`SERVING http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  server.close();
  server.closeAllConnections();
  agent.destroy();
}

try {
  if (process.argv[2] === '--serve-relay') await serveRelay(process.argv[3] ?? '');
  else if (SERVE) await serveProxy(process.argv[3] ?? '');
  else await main();
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
