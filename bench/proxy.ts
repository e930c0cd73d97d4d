// Benchmark: broken-reg's pull-through proxy beside CNCF distribution's (Debian's docker-registry with
// `proxy: {remoteurl}`), both in front of the same local distribution upstream, pulled by the same
// client (curl to /dev/null), in one run:
//   cold: a 1 GiB blob through a proxy with an empty store (fetched upstream, streamed to the client
//     while written to the store and verified); target >= 1.0x distribution's speed
//   warm: the same blob again, from the proxy's store; target >= 1.0x distribution
//   CPU seconds of each process over the cold pull; target <= 2.5 CPU-s per GiB in broken-reg
//   peak RSS (VmHWM, reset through clear_refs) over the cold pull: < 150 MB; over 8 different cold
//     128 MiB blobs pulled at once: < 200 MB
// Context in the same rounds: pulling from the upstream directly, a bare relay (a Node process that
// pipes the upstream's answer to the client: no hash, no store), writing 1 GiB to a new file on the
// store's filesystem, and sha256 of 1 GiB. Medians of the rounds (BENCH_ROUNDS, default 3); the
// machine is shared, so each round measures everything once, the order of the two proxies alternating.
// Run: npx tsc -p . && node dist/bench/proxy.js [size-in-MiB]; see bench/README.md.
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { download } from './load.js';
import { cpuSeconds, made, peakRss, resetPeak, threadCpu, threadDelta, threadText, type ThreadTime } from './proc.js';
import { pushBigBlob, startBrokenRegProxy, startDistribution, writeBigBlob, type BigBlob, type ServerProcess } from './reference.js';

const MIB = 1024 * 1024;
const SIZE = Number((process.argv[2]?.startsWith('--') ? undefined : process.argv[2]) ?? 1024) * MIB;
const SMALL = 128 * MIB;
const PARALLEL = 8;
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const NAME = 'bench/big';

type Proxy = 'broken-reg' | 'distribution';

interface Pull {
  /** Until the client had every byte. */
  seconds: number;
  /** Until the blob was in the proxy's store too (the same as seconds when not asked for). */
  storedSeconds: number;
  /** CPU seconds of each process over the pull (the client: every curl this process waited for). */
  cpu: Record<string, number>;
  /** The proxy's peak RSS over the pull, bytes. */
  peak: number;
  /** The proxy's CPU seconds by thread (broken-reg only). */
  threads?: [string, ThreadTime][];
}

interface ProxyRound {
  cold: Pull;
  warm: Pull;
  /** 8 different cold 128 MiB blobs at once. */
  parallel: Pull;
}

interface Round {
  direct: Pull;
  relay: Pull;
  proxies: Record<Proxy, ProxyRound>;
  floor: { seconds: number; cpu: number };
  load: number;
}

const load = () => os.loadavg()[0] ?? 0;
const stops: (() => Promise<unknown>)[] = [];

/**
 * Pulls each url once, all at once, with curl, noting each process's CPU seconds and server's peak RSS.
 * With stored (files), the figures are taken once they all exist: distribution 2.8 stores a blob
 * it pulls through in the background (a second fetch from the upstream, beside the one streamed to
 * the client), and its work is not done when the client has the bytes.
 */
async function measure(urls: string[], size: number, processes: Record<string, number>, server?: number, stored: string[] = []): Promise<Pull> {
  const pids = { client: process.pid, ...processes };
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const threadsBefore = server ? threadCpu(server) : undefined;
  if (server) resetPeak(server);
  const started = performance.now();
  await Promise.all(urls.map((url) => download(url, 1, size)));
  const seconds = (performance.now() - started) / 1000;
  await untilExist(stored);
  const storedSeconds = (performance.now() - started) / 1000;
  const cpu = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuSeconds(pid) - (before[name] ?? 0)]));
  const threads = server && threadsBefore ? threadDelta(threadsBefore, threadCpu(server)) : undefined;
  return { seconds, storedSeconds, cpu, peak: server ? peakRss(server) : 0, threads };
}

/** Waits (bounded: 120 s) until every file exists. */
async function untilExist(files: string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!files.every((file) => fs.existsSync(file))) {
    if (Date.now() > deadline) throw new Error(`not stored within 120 s: ${files.find((file) => !fs.existsSync(file))}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Where each proxy keeps a blob it has stored (in its store dir). */
function storedPath(kind: Proxy, dir: string, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  if (kind === 'distribution') return path.join(dir, 'storage/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  return path.join(dir, 'blobs/sha256', hex.slice(0, 2), hex);
}

/** A proxy on a fresh store in dir; what it prints goes to dir.log (distribution: its error log in dir). */
function startProxy(kind: Proxy, dir: string, upstream: ServerProcess): Promise<ServerProcess> {
  if (kind === 'distribution') return startDistribution(made(dir), upstream.url);
  const nodeArgs = (process.env.BENCH_PROXY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return startBrokenRegProxy(dir, new URL(upstream.url).host, nodeArgs, `${dir}.log`);
}

/** One proxy, fresh store: the cold pull, the warm pull; then a fresh store again for 8 cold pulls at once. */
async function measureProxy(kind: Proxy, root: string, upstream: ServerProcess, big: BigBlob, smalls: BigBlob[]): Promise<ProxyRound> {
  const run = async <T>(step: string, body: (proxy: ServerProcess, dir: string) => Promise<T>): Promise<T> => {
    const dir = path.join(root, `${kind}-${step}`);
    const proxy = await startProxy(kind, dir, upstream);
    try {
      return await body(proxy, dir);
    } catch (error) {
      // A blob not stored: the proxy's warning says why.
      const log = proxy.logTail();
      throw log ? new Error(`${(error as Error).message}\n${kind}'s output ends:\n${log}`) : error;
    } finally {
      await proxy.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(`${dir}.log`, { force: true });
    }
  };
  const { cold, warm } = await run('big', async (proxy, dir) => {
    const url = `${proxy.url}/v2/${NAME}/blobs/${big.digest}`;
    const processes = { upstream: upstream.pid, [kind]: proxy.pid };
    const cold = await measure([url], big.size, processes, proxy.pid, [storedPath(kind, dir, big.digest)]);
    const warm = await measure([url], big.size, processes, proxy.pid);
    return { cold, warm };
  });
  const parallel = await run('parallel', (proxy, dir) =>
    measure(
      smalls.map((blob, i) => `${proxy.url}/v2/bench/small${i}/blobs/${blob.digest}`),
      SMALL,
      { upstream: upstream.pid, [kind]: proxy.pid },
      proxy.pid,
      smalls.map((blob) => storedPath(kind, dir, blob.digest)),
    ),
  );
  return { cold, warm, parallel };
}

/** Writing SIZE bytes to a new file on the stores' filesystem (8 MiB writes of one buffer): its time and CPU. */
function fileWriteFloor(dir: string): { seconds: number; cpu: number } {
  const file = path.join(dir, 'floor');
  const chunk = randomFillSync(Buffer.alloc(8 * MIB));
  const cpu = process.cpuUsage();
  const started = performance.now();
  const fd = fs.openSync(file, 'wx');
  for (let written = 0; written < SIZE; written += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, SIZE - written), written);
  fs.closeSync(fd);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  fs.rmSync(file);
  return { seconds, cpu: (used.user + used.system) / 1e6 };
}

/** CPU seconds sha256 takes over SIZE bytes here (a proxy must hash every byte it stores). */
function hashSeconds(): number {
  const chunk = randomFillSync(Buffer.alloc(MIB));
  const hash = createHash('sha256');
  const before = process.cpuUsage();
  for (let hashed = 0; hashed < SIZE; hashed += chunk.length) hash.update(chunk.subarray(0, Math.min(chunk.length, SIZE - hashed)));
  hash.digest();
  const cpu = process.cpuUsage(before);
  return (cpu.user + cpu.system) / 1e6;
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-proxy-'));
  stops.push(async () => fs.rmSync(root, { recursive: true, force: true }));
  const upstream = await startDistribution(made(path.join(root, 'upstream')));
  stops.push(() => upstream.stop());
  const big = writeBigBlob(path.join(root, 'big'), SIZE);
  await pushBigBlob(upstream.url, NAME, big, 'monolithic');
  fs.rmSync(big.file);
  const smalls: BigBlob[] = [];
  for (let i = 0; i < PARALLEL; i++) {
    const blob = writeBigBlob(path.join(root, `small${i}`), SMALL);
    await pushBigBlob(upstream.url, `bench/small${i}`, blob, 'monolithic');
    fs.rmSync(blob.file);
    smalls.push(blob);
  }
  const direct = `${upstream.url}/v2/${NAME}/blobs/${big.digest}`;
  // Every blob once, untimed: what the upstream serves then comes from the page cache, as it would
  // from a registry on the network.
  await download(direct, 1, SIZE);
  for (const [i, blob] of smalls.entries()) await download(`${upstream.url}/v2/bench/small${i}/blobs/${blob.digest}`, 1, SMALL);
  const hashCpu = hashSeconds();

  const rounds: Round[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const directPull = await measure([direct], SIZE, { upstream: upstream.pid });
    const relay = await spawnRelay(upstream.url);
    const relayPull = await measure([`${relay.url}/v2/${NAME}/blobs/${big.digest}`], SIZE, { upstream: upstream.pid, relay: relay.pid }, relay.pid);
    await relay.stop();
    const order: Proxy[] = round % 2 === 0 ? ['distribution', 'broken-reg'] : ['broken-reg', 'distribution'];
    const proxies = {} as Record<Proxy, ProxyRound>;
    for (const kind of order) proxies[kind] = await measureProxy(kind, root, upstream, big, smalls);
    const floor = fileWriteFloor(root);
    const r: Round = { direct: directPull, relay: relayPull, proxies, floor, load: load() };
    rounds.push(r);
    printRound(round + 1, r);
  }
  printSummary(rounds, hashCpu);
}

const fmt = (n: number, digits = 2) => n.toFixed(digits);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const cpuText = (pull: Pull) =>
  Object.entries(pull.cpu)
    .map(([name, seconds]) => `${name} ${fmt(seconds)}`)
    .join(', ');

function printRound(n: number, r: Round): void {
  const ours = r.proxies['broken-reg'];
  const theirs = r.proxies.distribution;
  console.log(`round ${n} (load ${fmt(r.load, 1)}):`);
  console.log(`  direct from the upstream   ${fmt(r.direct.seconds)} s   CPU-s: ${cpuText(r.direct)}`);
  console.log(`  bare relay                 ${fmt(r.relay.seconds)} s   CPU-s: ${cpuText(r.relay)}; relay peak RSS ${mb(r.relay.peak)}`);
  for (const [kind, p] of [['distribution', theirs], ['broken-reg', ours]] as const) {
    console.log(`  ${kind.padEnd(12)} cold       ${fmt(p.cold.seconds)} s (stored at ${fmt(p.cold.storedSeconds)} s)   CPU-s: ${cpuText(p.cold)}; peak RSS ${mb(p.cold.peak)}`);
    console.log(`  ${kind.padEnd(12)} warm       ${fmt(p.warm.seconds)} s   CPU-s: ${cpuText(p.warm)}; peak RSS ${mb(p.warm.peak)}`);
    console.log(`  ${kind.padEnd(12)} 8 x 128 MiB ${fmt(p.parallel.seconds)} s (stored at ${fmt(p.parallel.storedSeconds)} s)  CPU-s: ${cpuText(p.parallel)}; peak RSS ${mb(p.parallel.peak)}`);
  }
  console.log(`  broken-reg cold, CPU-s by thread: ${threadText(ours.cold.threads ?? [])}`);
  console.log(`  a new ${SIZE / MIB} MiB file: ${fmt(r.floor.seconds)} s, ${fmt(r.floor.cpu)} CPU-s`);
}

function printSummary(rounds: Round[], hashCpu: number): void {
  const med = (pick: (r: Round) => number) => median(rounds.map(pick));
  const ours = (r: Round) => r.proxies['broken-reg'];
  const theirs = (r: Round) => r.proxies.distribution;
  const gib = SIZE / (1024 * MIB);
  const rows: { figure: string; ours: string; distribution: string; ratio: string; target: string; pass?: boolean }[] = [];
  const speed = (figure: string, pick: (p: ProxyRound) => Pull) => {
    const [a, b] = [med((r) => pick(ours(r)).seconds), med((r) => pick(theirs(r)).seconds)];
    const ratio = b / a;
    rows.push({ figure, ours: `${fmt(a)} s`, distribution: `${fmt(b)} s`, ratio: `${fmt(ratio)}x`, target: '>= 1.0x distribution', pass: ratio >= 1 });
  };
  speed(`${SIZE / MIB} MiB cold pull`, (p) => p.cold);
  speed(`${SIZE / MIB} MiB warm pull`, (p) => p.warm);
  const cpu = (p: ProxyRound, kind: Proxy) => (p.cold.cpu[kind] ?? 0) / gib;
  const [ourCpu, theirCpu] = [med((r) => cpu(ours(r), 'broken-reg')), med((r) => cpu(theirs(r), 'distribution'))];
  rows.push({ figure: 'CPU-s per GiB, cold, proxy process', ours: fmt(ourCpu), distribution: fmt(theirCpu), ratio: `${fmt(ourCpu / theirCpu)}x`, target: '<= 2.5', pass: ourCpu <= 2.5 });
  const peak = (figure: string, pick: (p: ProxyRound) => Pull, limit: number) => {
    const [a, b] = [med((r) => pick(ours(r)).peak), med((r) => pick(theirs(r)).peak)];
    rows.push({ figure, ours: mb(a), distribution: mb(b), ratio: `${fmt(a / b)}x`, target: `< ${limit} MB`, pass: a < limit * 1e6 });
  };
  peak('peak RSS, cold pull', (p) => p.cold, 150);
  speed(`${PARALLEL} x ${SMALL / MIB} MiB cold at once`, (p) => p.parallel);
  rows[rows.length - 1]!.target = '-';
  rows[rows.length - 1]!.pass = undefined;
  peak(`peak RSS, ${PARALLEL} x ${SMALL / MIB} MiB cold`, (p) => p.parallel, 200);

  console.log('');
  console.log(
    `broken-reg proxy vs distribution ${'2.8'} pull-through, same upstream (distribution on 127.0.0.1), curl to /dev/null, ` +
      `${os.cpus().length} CPUs, Node ${process.version}, ${new Date().toISOString().slice(0, 16)}Z, median of ${rounds.length} rounds, load ${os.loadavg().map((l) => fmt(l)).join(' ')}`,
  );
  console.log('');
  const header = ['figure', 'broken-reg', 'distribution', 'ratio', 'target', 'result'];
  const table = rows.map((row) => [row.figure, row.ours, row.distribution, row.ratio, row.target, row.pass === undefined ? '' : row.pass ? 'PASS' : 'FAIL']);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 || i === 4 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) console.log(line(row));
  const directSeconds = med((r) => r.direct.seconds);
  console.log('');
  console.log(`context: direct from the upstream ${fmt(directSeconds)} s (${fmt(SIZE / MIB / directSeconds, 0)} MiB/s); ` +
    `bare relay ${fmt(med((r) => r.relay.seconds))} s (${fmt(directSeconds / med((r) => r.relay.seconds))}x direct, relay ${fmt(med((r) => r.relay.cpu.relay ?? 0))} CPU-s); ` +
    `cold through broken-reg ${fmt(directSeconds / med((r) => ours(r).cold.seconds))}x direct, distribution ${fmt(directSeconds / med((r) => theirs(r).cold.seconds))}x direct`);
  console.log(`context: stored after ${fmt(med((r) => ours(r).cold.storedSeconds))} s (broken-reg), ${fmt(med((r) => theirs(r).cold.storedSeconds))} s (distribution: in the background, a second fetch)`);
  console.log(`context: a new ${SIZE / MIB} MiB file ${fmt(med((r) => r.floor.seconds))} s (${fmt(med((r) => r.floor.cpu))} CPU-s); sha256 of it ${fmt(hashCpu)} CPU-s`);
  const passed = rows.filter((row) => row.pass).length;
  const judged = rows.filter((row) => row.pass !== undefined).length;
  console.log(`${passed} of ${judged} targets met`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Starts this file as a bare relay (--serve-relay) of upstream in a child process. */
async function spawnRelay(upstream: string): Promise<{ url: string; pid: number; stop(): Promise<unknown> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve-relay', upstream], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  stops.push(stop);
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /SERVING (\S+)/.exec(chunk.toString());
      if (match?.[1]) resolve({ url: match[1], pid: child.pid ?? 0, stop });
    });
    child.once('exit', (code) => reject(new Error(`the relay exited with ${code}`)));
  });
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
  else await main();
} finally {
  for (const stop of stops.reverse()) await stop();
}
