// broken-reg as a registry, measured beside CNCF distribution (Debian's docker-registry) in the same
// run, and beside nginx serving the same file as the ceiling. Both registries first get the same
// content pushed over HTTP: a small OCI image (manifest, config, 32 KiB layer) and a 1 GiB blob.
//
//   request rates (wrk, N s, 2 threads, 64 connections; ab -k for HEAD): GET /v2/, manifest GET by
//     tag, blob HEAD; target >= 5x distribution
//   1 GiB blob GET, one stream and 8 in parallel (curl to /dev/null): >= 1.0x distribution, >= 0.6x nginx
//   1 GiB push, monolithic (POST ?digest= with the body) and chunked (64 MiB PATCHes): >= 3x distribution;
//     curl sends the bodies; the ceiling column is a Node server that reads the body and keeps nothing
//     (startSink)
//   peak RSS (VmHWM) of broken-reg during the 8 parallel pulls and during a push: < 150 MB
//   manifest GETs while 1,000 broken/timeout:dur-30s requests are held open: >= 80% of the rate without
//
// Each figure is measured on broken-reg, distribution and nginx one after the other, in rounds (the
// machine is shared: the best round of each counts, and the load average and the host's CPU steal
// while it was measured are printed beside it).
//
//   npm run bench:registry [-- seconds [rounds [size]]]   (node dist/bench/registry.js ...)
//     seconds: each wrk run (default 10); rounds: default 2; size: the big blob in MiB (default 1024)
//
// Needs the Debian packages docker-registry, wrk, nginx-light and curl; see bench/README.md.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { download, holdRequests, wrk, type WrkOptions } from './load.js';
import {
  blobParts,
  mirrorFile,
  pushBigBlob,
  pushSmallImage,
  smallImage,
  startBrokenReg,
  startDistribution,
  startNginx,
  startSink,
  writeBigBlob,
  type BigBlob,
  type PushMode,
  type ServerProcess,
} from './reference.js';
import { machineTime, stealShare } from './proc.js';

const MIB = 1024 * 1024;
const SECONDS = Number(process.argv[2] ?? 10);
const ROUNDS = Math.max(1, Number(process.argv[3] ?? 2));
const BIG = Number(process.argv[4] ?? 1024) * MIB;
const CONNECTIONS = 64;
const HELD = 1_000;
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

interface Row {
  figure: string;
  unit: 'req/s' | 'MB/s' | 'MB' | '%';
  ours: number;
  distribution?: number;
  /** nginx for pulls and request rates, the discarding sink for pushes. */
  ceiling?: number;
  target: string;
  pass: boolean;
  load: number;
  /** CPU steal (%) between the row before and this one, while its figure was measured (a memory row: its phase's). */
  steal: number;
}

const rows: Row[] = [];
const load = () => os.loadavg()[0] ?? 0;
let lastReading = machineTime();
/** The host's CPU steal (%) since the last call: each row's share of the time it took to measure. */
function steal(): number {
  const now = machineTime();
  const share = stealShare(lastReading, now);
  lastReading = now;
  return share * 100;
}

/** The repository names each server uses for the same content. */
interface Target {
  server: ServerProcess;
  small: string;
  big: string;
}

function rate(options: Omit<WrkOptions, 'seconds' | 'threads' | 'connections'>, seconds = SECONDS): Promise<number> {
  return wrk({ seconds, threads: 2, connections: CONNECTIONS, ...options }).then((result) => {
    if (result.errors > 0) throw new Error(`${options.method ?? 'GET'} ${options.url} (${nameOf(options.url)}): ${result.errors} errors in ${result.requests} requests`);
    return result.requestsPerSecond;
  });
}

function addRatioRow(figure: string, unit: Row['unit'], ours: number, distribution: number, minimum: number, ceiling?: number, ceilingMinimum?: number): void {
  let pass = ours >= minimum * distribution;
  let target = `>= ${minimum}x distribution`;
  if (ceiling !== undefined && ceilingMinimum !== undefined) {
    pass &&= ours >= ceilingMinimum * ceiling;
    target += `, >= ${ceilingMinimum}x nginx`;
  }
  rows.push({ figure, unit, ours, distribution, ceiling, target, pass, load: load(), steal: steal() });
  console.error(`  ${figure}: ${format(ours, unit)} vs ${format(distribution, unit)}${ceiling ? ` (ceiling ${format(ceiling, unit)})` : ''}`);
}

/**
 * Runs one round's measurements one after the other, starting each round with the next one: on this
 * machine the same server measures differently first and second in a round (bench/README.md, "the
 * second always slower"), so over the rounds each server takes each place.
 */
async function inTurn(round: number, measurements: (() => Promise<void>)[]): Promise<void> {
  const first = round % measurements.length;
  for (const measure of [...measurements.slice(first), ...measurements.slice(0, first)]) await measure();
}

async function requestRates(ours: Target, theirs: Target, nginx: ServerProcess): Promise<void> {
  const cases: { figure: string; path: (t: Target) => string; nginxPath: string; method?: 'HEAD'; headers?: Record<string, string> }[] = [
    { figure: 'GET /v2/', path: () => '/v2/', nginxPath: '/v2/' },
    { figure: 'manifest GET by tag', path: (t) => `/v2/${t.small}/manifests/v1`, nginxPath: '/manifest', headers: { Accept: ACCEPT } },
    { figure: 'blob HEAD', path: (t) => `/v2/${t.small}/blobs/${layerDigest}`, nginxPath: '/layer', method: 'HEAD' },
  ];
  for (const c of cases) {
    let [oursRate, theirRate, nginxRate] = [0, 0, 0];
    for (let round = 0; round < ROUNDS; round++) {
      await inTurn(round, [
        async () => void (oursRate = Math.max(oursRate, await rate({ url: `${ours.server.url}${c.path(ours)}`, method: c.method, headers: c.headers }))),
        async () => void (theirRate = Math.max(theirRate, await rate({ url: `${theirs.server.url}${c.path(theirs)}`, method: c.method, headers: c.headers }))),
        async () => void (nginxRate = Math.max(nginxRate, await rate({ url: `${nginx.url}${c.nginxPath}`, method: c.method }))),
      ]);
    }
    addRatioRow(c.figure, 'req/s', oursRate, theirRate, 5, nginxRate);
  }
}

async function blobGets(ours: Target, theirs: Target, nginx: ServerProcess, blob: BigBlob): Promise<void> {
  const blobUrl = (t: Target) => `${t.server.url}/v2/${t.big}/blobs/${blob.digest}`;
  // One untimed pull each first: the machine may have dropped the files from the page cache while the
  // request rates ran, and what is measured is serving, not the disk.
  for (const url of [blobUrl(ours), blobUrl(theirs), `${nginx.url}/big`]) await download(url, 1, blob.size);
  for (const parallel of [1, 8]) {
    // The best rate and the highest peak RSS of each registry over the rounds.
    const best = new Map<Target, { rate: number; peak: number }>();
    const get = (t: Target) => async () => {
      t.server.resetPeak();
      const { bytesPerSecond } = await download(blobUrl(t), parallel, blob.size);
      const soFar = best.get(t) ?? { rate: 0, peak: 0 };
      best.set(t, { rate: Math.max(soFar.rate, bytesPerSecond), peak: Math.max(soFar.peak, t.server.peakRss()) });
    };
    let nginxRate = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await inTurn(round, [get(ours), get(theirs), async () => void (nginxRate = Math.max(nginxRate, (await download(`${nginx.url}/big`, parallel, blob.size)).bytesPerSecond))]);
    }
    const [oursBest, theirBest] = [best.get(ours), best.get(theirs)];
    if (!oursBest || !theirBest) throw new Error('internal: a GET round measured nothing');
    const label = parallel === 1 ? 'one stream' : `${parallel} parallel`;
    addRatioRow(`${BIG / MIB} MiB blob GET, ${label}`, 'MB/s', oursBest.rate / 1e6, theirBest.rate / 1e6, 1, nginxRate / 1e6, 0.6);
    if (parallel > 1) addMemoryRow(`peak RSS, ${parallel} parallel GETs`, oursBest.peak, theirBest.peak);
  }
}

/**
 * Writes out the dirty pages earlier steps left (the big blob, nginx's copy, the last push), so that
 * no push is timed while the kernel writes back another's gigabyte.
 */
async function flushDirtyPages(): Promise<void> {
  // Not execFileSync: a blocked event loop misses the server closing an idle keep-alive connection,
  // and the next request on it fails.
  await promisify(execFile)('sync', [], { timeout: 120_000 });
}

function addMemoryRow(figure: string, oursPeak: number, theirPeak: number): void {
  rows.push({ figure, unit: 'MB', ours: oursPeak / 1e6, distribution: theirPeak / 1e6, target: '< 150 MB', pass: oursPeak > 0 && oursPeak < 150e6, load: load(), steal: rows.at(-1)?.steal ?? steal() });
}

async function pushes(ours: Target, theirs: Target, sink: ServerProcess, blob: BigBlob): Promise<void> {
  const modes: PushMode[] = ['monolithic', 'chunked'];
  for (const mode of modes) {
    // The first monolithic push puts the blob in t.big, where the GETs find it; every push goes to a
    // repository of its own.
    const repo = (t: Target, round: number) => (mode === 'monolithic' && round === 0 ? t.big : `${t.big}-${mode}-${round}`);
    // The fastest push and the highest peak RSS of each registry over the rounds, and how it was pushed.
    const best = new Map<Target, { seconds: number; peak: number; method: string }>();
    const push = (t: Target, round: number) => async () => {
      await flushDirtyPages();
      t.server.resetPeak();
      const pushed = await pushBigBlob(t.server.url, repo(t, round), blob, mode);
      const soFar = best.get(t) ?? { seconds: Infinity, peak: 0, method: '' };
      best.set(t, { seconds: Math.min(soFar.seconds, pushed.seconds), peak: Math.max(soFar.peak, t.server.peakRss()), method: pushed.method });
    };
    let sinkSeconds = Infinity;
    for (let round = 0; round < ROUNDS; round++) {
      await inTurn(round, [push(ours, round), push(theirs, round)]);
      sinkSeconds = Math.min(sinkSeconds, (await pushBigBlob(sink.url, `sink-${round}`, blob, mode)).seconds);
      if (round === 0) console.error(`  ${mode}: broken-reg ${best.get(ours)?.method}; distribution ${best.get(theirs)?.method}`);
    }
    const [oursBest, theirBest] = [best.get(ours), best.get(theirs)];
    if (!oursBest || !theirBest) throw new Error('internal: a push round measured nothing');
    const mbps = (seconds: number) => blob.size / seconds / 1e6;
    addRatioRow(`${BIG / MIB} MiB push, ${mode}`, 'MB/s', mbps(oursBest.seconds), mbps(theirBest.seconds), 3, mbps(sinkSeconds));
    addMemoryRow(`peak RSS, ${mode} push`, oursBest.peak, theirBest.peak);
  }
}

/** Rounds of: manifest GETs alone, then with HELD requests held open (each hold ends well within 30 s). */
async function heldTimeouts(ours: Target): Promise<void> {
  const url = `${ours.server.url}/v2/${ours.small}/manifests/v1`;
  const port = Number(new URL(ours.server.url).port);
  const seconds = Math.min(SECONDS, 20); // a held request is answered after 30 s
  let [without, during] = [0, 0];
  for (let round = 0; round < ROUNDS; round++) {
    without = Math.max(without, await rate({ url, headers: { Accept: ACCEPT } }, seconds));
    const held = await holdRequests(port, '/v2/broken/timeout/manifests/dur-30s', HELD);
    try {
      during = Math.max(during, await rate({ url, headers: { Accept: ACCEPT } }, seconds));
      const waiting = held.waiting();
      if (waiting < HELD || held.answered() > 0) throw new Error(`only ${waiting} of ${HELD} timeout requests were still held (${held.answered()} answered)`);
    } finally {
      held.close();
    }
  }
  const share = (during / without) * 100;
  rows.push({ figure: `manifest GET with ${HELD} dur-30s held`, unit: '%', ours: share, target: '>= 80% of without', pass: share >= 80, load: load(), steal: steal() });
  console.error(`  held: ${during.toFixed(0)} req/s vs ${without.toFixed(0)} req/s without`);
}

function format(value: number | undefined, unit: Row['unit']): string {
  if (value === undefined) return '-';
  if (unit === '%') return `${value.toFixed(0)}%`;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: 0 })} ${unit}`;
}

function printTable(): void {
  const header = ['figure', 'broken-reg', 'distribution', 'ratio', 'ceiling', 'of ceiling', 'target', 'load', 'steal', 'result'];
  const lines = rows.map((row) => [
    row.figure,
    format(row.ours, row.unit),
    format(row.distribution, row.unit),
    row.distribution ? `${(row.ours / row.distribution).toFixed(2)}x` : '-',
    format(row.ceiling, row.unit),
    row.ceiling ? `${(row.ours / row.ceiling).toFixed(2)}x` : '-',
    row.target,
    row.load.toFixed(1),
    `${row.steal.toFixed(0)}%`,
    row.pass ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => (line[i] ?? '').length)));
  const render = (cells: string[]) => cells.map((cell, i) => (i === 0 || i === 6 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  console.log(render(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const line of lines) console.log(render(line));
  const failed = rows.filter((row) => !row.pass).length;
  console.log('ceiling: nginx (sendfile) serving the same file for GET and HEAD; for pushes a Node server that reads the body and keeps nothing');
  console.log('load: 1-minute load average when the figure was taken; steal: share of the CPU time the host took while the figure was measured; figures are the best of the rounds, each server measured in turn, a different one first each round');
  console.log(`\n${rows.length - failed} of ${rows.length} targets met`);
}

let layerDigest = '';
const names = new Map<string, string>();
const nameOf = (url: string) => names.get(new URL(url).origin) ?? '?';

async function main(): Promise<void> {
  const started = new Date();
  console.log(
    `broken-reg vs distribution ${distributionVersion()} vs nginx: ${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ` +
      `${started.toISOString().slice(0, 16)}Z, wrk ${SECONDS} s x 2 threads x ${CONNECTIONS} connections, best of ${ROUNDS} rounds, load ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}`,
  );
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-registry-'));
  fs.chmodSync(root, 0o755); // nginx workers run as another user when started by root
  const servers: ServerProcess[] = [];
  const cleanup = async () => {
    for (const server of servers.splice(0)) await server.stop().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  };
  const interrupted = () => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', interrupted);
  try {
    const dir = (name: string) => {
      fs.mkdirSync(path.join(root, name), { recursive: true });
      return path.join(root, name);
    };
    console.error(`writing a ${BIG / MIB} MiB blob...`);
    const blob = writeBigBlob(path.join(root, 'big.bin'), BIG);
    blobParts(blob); // the chunked pushes' PATCH bodies
    const image = smallImage();
    layerDigest = image.blobs[1]?.digest ?? '';
    const nginxRoot = dir('nginx-root');
    mirrorFile(nginxRoot, '/big', blob.file);
    mirrorFile(nginxRoot, '/manifest', image.manifest);
    mirrorFile(nginxRoot, '/layer', image.blobs[1]?.bytes ?? Buffer.alloc(0));
    mirrorFile(nginxRoot, '/v2/index.html', Buffer.from('{}'));

    const oursServer = await startBrokenReg(dir('broken-reg'));
    servers.push(oursServer);
    const theirServer = await startDistribution(dir('distribution'));
    servers.push(theirServer);
    const nginx = await startNginx(dir('nginx'), nginxRoot);
    servers.push(nginx);
    const sink = await startSink();
    servers.push(sink);
    for (const server of servers) names.set(server.url, server.name);
    const ours: Target = { server: oursServer, small: 'broken/prepared/bench/small', big: 'broken/prepared/bench/big' };
    const theirs: Target = { server: theirServer, small: 'bench/small', big: 'bench/big' };

    console.error('pushing the small image, then the big blob (timed)...');
    for (const t of [ours, theirs]) await pushSmallImage(t.server.url, t.small, 'v1', image);
    await pushes(ours, theirs, sink, blob);
    console.error('request rates...');
    await requestRates(ours, theirs, nginx);
    console.error('blob GETs...');
    await blobGets(ours, theirs, nginx, blob);
    console.error(`${HELD} held timeouts...`);
    await heldTimeouts(ours);
  } finally {
    process.off('SIGINT', interrupted);
    await cleanup();
  }
  console.log('');
  printTable();
  console.log(`\nfinished ${new Date().toISOString().slice(0, 16)}Z, load ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}`);
}

function distributionVersion(): string {
  try {
    return execFileSync('/usr/bin/docker-registry', ['--version'], { encoding: 'utf8', timeout: 5_000 }).trim().split(' ').pop() ?? '?';
  } catch {
    return '?';
  }
}

await main();
