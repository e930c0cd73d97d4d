// broken/fault measured on the real binary, each figure beside its reference in the same run:
//
//   a rule that does not match costs nothing: manifest GET req/s (wrk) and a 1 GiB blob GET (curl)
//     through broken/fault/on-tags_status-500/broken/prepared/x against broken/prepared/x, rounds
//     alternating the two; target >= 0.95x
//   slow faults hold no thread: 1,000 drip, stall and rate responses held open at once; broken-reg's
//     peak RSS while they run < 200 MB, and manifest GETs of other clients beside them >= 80% of the
//     rate without them
//   rate-1m on a 10 MiB blob takes 10 s within 10%
//   stall-2s_at-1m stalls at exactly 1 MiB (the bytes a client has when the gap starts), for 2 s
//
// Figures are medians of the rounds, ratios the median of the rounds' own ratios (the machine is
// shared; the load average is printed beside each).
//
//   npm run bench:faults [-- seconds [rounds [MiB]]]   (node dist/bench/faults.js ...)
//     seconds: each wrk run (default 10); rounds: default 3; MiB: the big blob (default 1024)
//
// Needs wrk and curl (Debian packages wrk, curl); see bench/README.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { download, holdRequests, wrk, type HeldRequests } from './load.js';
import { pushBigBlob, pushSmallImage, smallImage, startBrokenReg, writeBigBlob, type ServerProcess } from './reference.js';

const MIB = 1024 * 1024;
const SECONDS = Number(process.argv[2] ?? 10);
const ROUNDS = Math.max(1, Number(process.argv[3] ?? 3));
const BIG = Number(process.argv[4] ?? 1024) * MIB;
const SLOW = 1_000;
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
const INNER = 'broken/prepared/x';
const UNMATCHED = `broken/fault/on-tags_status-500/${INNER}`;

interface Row {
  figure: string;
  value: string;
  reference: string;
  ratio: string;
  target: string;
  pass: boolean;
  load: string;
}

const rows: Row[] = [];
const load = () => (os.loadavg()[0] ?? 0).toFixed(1);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function rate(url: string, seconds = SECONDS): Promise<number> {
  const result = await wrk({ url, seconds, threads: 2, connections: 64, headers: { Accept: ACCEPT } });
  if (result.errors > 0) throw new Error(`GET ${url}: ${result.errors} errors in ${result.requests} requests`);
  return result.requestsPerSecond;
}

/**
 * The ratio is the median of the rounds' own ratios: each round measures the two back to back, so a
 * change in the machine's load between rounds (other work on a shared machine) falls on both sides
 * of that round's ratio instead of on one side of the medians.
 */
function ratioRow(figure: string, unit: string, ours: number[], reference: number[], minimum: number): void {
  const [a, b] = [median(ours), median(reference)];
  const ratio = median(ours.map((value, round) => value / (reference[round] as number)));
  rows.push({ figure, value: `${a.toFixed(0)} ${unit}`, reference: `${b.toFixed(0)} ${unit}`, ratio: `${ratio.toFixed(2)}x`, target: `>= ${minimum}x`, pass: ratio >= minimum, load: load() });
  console.error(`  ${figure}: ${ours.map((v) => v.toFixed(0)).join(', ')} vs ${reference.map((v) => v.toFixed(0)).join(', ')} ${unit}; ratio of the medians ${(a / b).toFixed(2)}x`);
}

/** Manifest GET and 1 GiB blob GET through a fault name whose rule matches neither, against the bare name. */
async function unmatchedOverhead(server: ServerProcess, bigDigest: string): Promise<void> {
  const manifest = (name: string) => `${server.url}/v2/${name}/manifests/v1`;
  const [ours, reference] = [[] as number[], [] as number[]];
  // An untimed run of each first, so the code of both paths is compiled before it is timed.
  for (const name of [INNER, UNMATCHED]) await rate(manifest(name), Math.min(SECONDS, 3));
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so a drift in the machine's load falls on both.
    const order = round % 2 === 0 ? [UNMATCHED, INNER] : [INNER, UNMATCHED];
    for (const name of order) (name === UNMATCHED ? ours : reference).push(await rate(manifest(name)));
  }
  ratioRow('manifest GET, unmatched rule', 'req/s', ours, reference, 0.95);
  const blob = (name: string) => `${server.url}/v2/${name}/blobs/${bigDigest}`;
  // Warm the page cache (what is measured is serving, not the disk) and both paths.
  for (const name of [INNER, UNMATCHED]) await download(blob(name), 1, BIG);
  const [oursMb, referenceMb] = [[] as number[], [] as number[]];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [UNMATCHED, INNER] : [INNER, UNMATCHED];
    for (const name of order) (name === UNMATCHED ? oursMb : referenceMb).push((await download(blob(name), 1, BIG)).bytesPerSecond / 1e6);
  }
  ratioRow(`${BIG / MIB} MiB blob GET, unmatched rule`, 'MB/s', oursMb, referenceMb, 0.95);
}

const SLOW_RULES = ['on-blob_drip-1_every-1s', 'on-blob_stall-5m_at-1k', 'on-blob_rate-64'];

/** Holds SLOW drip, stall and rate responses (a third each) open, once each has started sending. */
async function holdSlow(server: ServerProcess, layer: string): Promise<HeldRequests[]> {
  const port = Number(new URL(server.url).port);
  const held: HeldRequests[] = [];
  try {
    for (const [i, rules] of SLOW_RULES.entries()) {
      const count = Math.floor(SLOW / SLOW_RULES.length) + (i < SLOW % SLOW_RULES.length ? 1 : 0);
      held.push(await holdRequests(port, `/v2/broken/fault/${rules}/${INNER}/blobs/${layer}`, count));
    }
    // Bounded: every slow response has sent its first bytes within 30 s.
    const started = () => held.reduce((sum, h) => sum + h.answered(), 0);
    for (let i = 0; i < 300 && started() < SLOW; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    if (started() < SLOW) throw new Error(`only ${started()} of ${SLOW} slow responses had started within 30 s`);
    return held;
  } catch (error) {
    for (const h of held) h.close();
    throw error;
  }
}

/**
 * broken-reg's peak RSS while SLOW slow responses run for 5 s, each round on a fresh server that has
 * served nothing else: V8 keeps the heap a wrk run grew (a bare wrk run takes the server above 200 MB
 * on this machine), and on one server the rounds climb (about 150, 180, 220, 260 MB) on the garbage of
 * the rounds before, which V8 collects late on a server this idle (a forced collection after a round
 * takes the heap back to the 18 MB it started with), so the figure is taken apart from the rates.
 */
async function slowFaultsMemory(dir: string, image: ReturnType<typeof smallImage>, layer: string): Promise<void> {
  const peaks: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const server = await startBrokenReg(path.join(dir, `fresh-${round}`));
    try {
      await pushSmallImage(server.url, INNER, 'v1', image);
      server.resetPeak();
      const held = await holdSlow(server, layer);
      try {
        await new Promise((resolve) => setTimeout(resolve, 5_000));
        peaks.push(server.peakRss() / 1e6);
      } finally {
        for (const h of held) h.close();
      }
    } finally {
      await server.stop();
    }
  }
  rows.push({ figure: `peak RSS, ${SLOW} slow faults under way`, value: `${median(peaks).toFixed(0)} MB`, reference: '-', ratio: '-', target: '< 200 MB', pass: Math.max(...peaks) < 200, load: load() });
  console.error(`  slow faults, peak RSS: ${peaks.map((v) => v.toFixed(0)).join(', ')} MB`);
}

/** Manifest GETs of other clients beside SLOW slow responses, against the rate without them. */
async function slowFaultsRate(server: ServerProcess, layer: string): Promise<void> {
  const url = `${server.url}/v2/${INNER}/manifests/v1`;
  const [without, during] = [[] as number[], [] as number[]];
  for (let round = 0; round < ROUNDS; round++) {
    without.push(await rate(url));
    const held = await holdSlow(server, layer);
    try {
      during.push(await rate(url));
    } finally {
      for (const h of held) h.close();
    }
  }
  const share = (median(during) / median(without)) * 100;
  rows.push({ figure: `manifest GET beside ${SLOW} slow faults`, value: `${median(during).toFixed(0)} req/s`, reference: `${median(without).toFixed(0)} req/s`, ratio: `${share.toFixed(0)}%`, target: '>= 80%', pass: share >= 80, load: load() });
  console.error(`  slow faults, manifest GET: ${during.map((v) => v.toFixed(0)).join(', ')} vs ${without.map((v) => v.toFixed(0)).join(', ')} req/s`);
}

/** rate-1m on a 10 MiB blob: the seconds the whole download takes. */
async function rateAccuracy(server: ServerProcess, digest: string, size: number): Promise<void> {
  const seconds: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Timed here rather than with curl: starting a process on a loaded machine adds its own second.
    const started = performance.now();
    const response = await request(`${server.url}/v2/broken/fault/on-blob_rate-1m/${INNER}/blobs/${digest}`, { bodyTimeout: 30_000, headersTimeout: 30_000 });
    let received = 0;
    for await (const chunk of response.body) received += (chunk as Buffer).length;
    if (received !== size) throw new Error(`rate-1m: ${received} of ${size} bytes`);
    seconds.push((performance.now() - started) / 1000);
  }
  const value = median(seconds);
  rows.push({ figure: 'rate-1m on 10 MiB', value: `${value.toFixed(2)} s`, reference: '10 s', ratio: `${(value / 10).toFixed(3)}x`, target: '10 s ± 10%', pass: Math.abs(value - 10) <= 1, load: load() });
  console.error(`  rate-1m: ${seconds.map((v) => v.toFixed(2)).join(', ')} s`);
}

/** stall-2s_at-1m: where the one long gap in the body starts (bytes received by then) and how long it is. */
async function stallOffset(server: ServerProcess, digest: string): Promise<void> {
  const offsets: number[] = [];
  const gaps: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const response = await request(`${server.url}/v2/broken/fault/on-blob_stall-2s_at-1m/${INNER}/blobs/${digest}`, { bodyTimeout: 30_000, headersTimeout: 30_000 });
    let received = 0;
    let last = performance.now();
    let gap = { ms: 0, at: -1 };
    for await (const chunk of response.body) {
      const now = performance.now();
      if (now - last > gap.ms) gap = { ms: now - last, at: received };
      received += (chunk as Buffer).length;
      last = now;
    }
    offsets.push(gap.at);
    gaps.push(gap.ms);
  }
  const exact = offsets.every((at) => at === MIB);
  rows.push({ figure: 'stall-2s_at-1m: offset of the gap', value: offsets.join(', '), reference: String(MIB), ratio: '-', target: 'exactly 1 MiB', pass: exact, load: load() });
  // As the client sees it: the chunk before the stall may reach it late on a loaded machine.
  rows.push({ figure: 'stall-2s_at-1m: length of the gap', value: `${(median(gaps) / 1000).toFixed(2)} s`, reference: '2 s', ratio: '-', target: '2 s ± 10%', pass: gaps.every((ms) => Math.abs(ms - 2000) <= 200), load: load() });
}

function printTable(): void {
  const header = ['figure', 'broken/fault', 'reference', 'ratio', 'target', 'load', 'result'];
  const lines = rows.map((r) => [r.figure, r.value, r.reference, r.ratio, r.target, r.load, r.pass ? 'pass' : 'FAIL']);
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const line of lines) console.log(`| ${line.join(' | ')} |`);
  console.log(`\n${os.cpus().length} CPUs, Node ${process.version}, ${ROUNDS} rounds, ${SECONDS} s wrk runs, medians; load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')} at the end.`);
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-reg-bench-faults-'));
  let server: ServerProcess | undefined;
  try {
    const big = writeBigBlob(path.join(dir, 'big'), BIG);
    const ten = writeBigBlob(path.join(dir, 'ten'), 10 * MIB);
    const image = smallImage();
    const layer = image.blobs[1]?.digest ?? '';
    console.error(`load average at the start: ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}`);
    await slowFaultsMemory(dir, image, layer);
    server = await startBrokenReg(path.join(dir, 'store'));
    await pushSmallImage(server.url, INNER, 'v1', image);
    await pushBigBlob(server.url, INNER, big, 'monolithic');
    await pushBigBlob(server.url, INNER, ten, 'monolithic');
    await unmatchedOverhead(server, big.digest);
    await slowFaultsRate(server, layer);
    await rateAccuracy(server, ten.digest, ten.size);
    await stallOffset(server, ten.digest);
    printTable();
    if (rows.some((r) => !r.pass)) process.exitCode = 1;
  } finally {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
