// What the request journal costs: manifest GET by tag with the journal on (the default, 100,000
// entries) against `--journal-size 0`, the two servers side by side in one run, wrk on each in turn
// (the order alternates by round), the median of the rounds' ratios; target >= 95% of the rate without it.
// Then the memory of a full ring: 100,000 entries recorded as the server records them (docker's
// User-Agent and Accept, a distinct path and digest per entry), the heap after a GC against before;
// target < 60 MB. The RSS of both servers after the rounds is printed beside it.
//
//   npm run bench:journal [-- seconds [rounds]]   (node dist/bench/journal.js ...; defaults 10, 5)
//
// Needs wrk (Debian package wrk).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { wrk } from './load.js';
import { cpuSeconds } from './proc.js';
import { pushSmallImage, smallImage, startBrokenReg, type ServerProcess } from './reference.js';
import { Journal } from '../src/journal/journal.js';
import type { RequestLogEntry } from '../src/server/log.js';

const SECONDS = Number(process.argv[2] ?? 10);
const ROUNDS = Math.max(1, Number(process.argv[3] ?? 5));
const REPO = 'broken/prepared/bench/small';
const ACCEPT = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
const ENTRIES = 100_000;
const MB = 1024 * 1024;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const load = () => (os.loadavg()[0] ?? 0).toFixed(2);

/** The rate, and the server's CPU time per request (user and system, from /proc) during the run. */
async function rate(server: ServerProcess): Promise<{ perSecond: number; cpuMicros: number }> {
  const cpuBefore = cpuSeconds(server.pid);
  const result = await wrk({ url: `${server.url}/v2/${REPO}/manifests/v1`, seconds: SECONDS, threads: 2, connections: 64, headers: { Accept: ACCEPT } });
  if (result.errors > 0) throw new Error(`${server.url}: ${result.errors} errors in ${result.requests} requests`);
  return { perSecond: result.requestsPerSecond, cpuMicros: ((cpuSeconds(server.pid) - cpuBefore) * 1e6) / result.requests };
}

function rss(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** The heap a full ring of realistic entries holds, in bytes. */
function ringMemory(): { bytes: number; count: number } {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const journal = new Journal(ENTRIES);
  for (let i = 0; i < ENTRIES; i++) {
    const digest = `sha256:${i.toString(16).padStart(64, '0')}`;
    const path = `/v2/library/nginx-${i % 50}/blobs/${digest}`;
    const entry: RequestLogEntry = {
      time: new Date(Date.now() + i).toISOString(),
      method: 'GET',
      // Fresh strings per request, as Node's parser makes them; the route's parts are slices of the path.
      path,
      operation: 'blob.get',
      repository: path.slice(4, path.indexOf('/blobs/')),
      reference: path.slice(path.lastIndexOf('/') + 1),
      status: 200,
      complete: true,
      bytes: 1234 + i,
      received: 0,
      ms: Math.random() * 100,
      scenario: 'proxy',
      client: ['127.0.0.1'].join(''),
      userAgent: ['docker/27.5.1 go/go1.22.11 git-commit/4c9b3b0 kernel/6.1.0 os/linux arch/amd64 UpstreamClient(Docker-Client/27.5.1 (linux))'].join(''),
      accept: [ACCEPT, 'application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json'].join(', '),
      auth: ['Bearer'].join(''),
      ...(i % 10 === 0 ? { range: `bytes=${i}-` } : {}),
    };
    journal.record(entry);
  }
  gc();
  const bytes = process.memoryUsage().heapUsed - before;
  return { bytes, count: journal.count };
}

async function main(): Promise<void> {
  const dirs = [fs.mkdtempSync(path.join(os.tmpdir(), 'bench-journal-on-')), fs.mkdtempSync(path.join(os.tmpdir(), 'bench-journal-off-'))];
  const servers: ServerProcess[] = [];
  try {
    const on = await startBrokenReg(dirs[0] as string);
    servers.push(on);
    const off = await startBrokenReg(dirs[1] as string, ['--journal-size', '0']);
    servers.push(off);
    const image = smallImage();
    for (const server of servers) await pushSmallImage(server.url, REPO, 'v1', image);
    const rates = { on: [] as number[], off: [] as number[] };
    const cpu = { on: [] as number[], off: [] as number[] };
    console.log(`manifest GET by tag, wrk ${SECONDS}s x ${ROUNDS} rounds, 2 threads, 64 connections; ${os.cpus().length} CPUs`);
    for (let round = 1; round <= ROUNDS; round++) {
      const order = round % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      const figures: string[] = [];
      for (const which of order) {
        const { perSecond, cpuMicros } = await rate(which === 'on' ? on : off);
        rates[which].push(perSecond);
        cpu[which].push(cpuMicros);
        figures.push(`${which} ${perSecond.toFixed(0)} req/s (${cpuMicros.toFixed(0)} µs CPU per request)`);
      }
      console.log(`  round ${round}: ${figures.join(', ')} (load ${load()})`);
    }
    // The median of the rounds' own ratios: each round runs the two back to back, so load that
    // changes between rounds (a shared machine) falls on both sides of a round's ratio.
    const ratio = median(rates.on.map((on, round) => on / (rates.off[round] as number)));
    console.log(`journal on (100,000)  ${median(rates.on).toFixed(0)} req/s (median)`);
    console.log(`--journal-size 0      ${median(rates.off).toFixed(0)} req/s (median)`);
    console.log(`ratio of the medians  ${((median(rates.on) / median(rates.off)) * 100).toFixed(1)}%`);
    console.log(`ratio                 ${(ratio * 100).toFixed(1)}% (median of the rounds' ratios)   target >= 95%   ${ratio >= 0.95 ? 'pass' : 'FAIL'}`);
    // Context: the server's own CPU per request does not depend on how much of the two cores wrk
    // and the machine's other work leave it, so it says what the journal costs with less noise.
    const cpuRatio = median(cpu.off.map((off, round) => off / (cpu.on[round] as number)));
    console.log(`server CPU per request: on ${median(cpu.on).toFixed(0)} µs, off ${median(cpu.off).toFixed(0)} µs (medians); off/on ${(cpuRatio * 100).toFixed(1)}% (median of the rounds)`);
    console.log(`server RSS after the rounds: on ${(rss(on.pid) / MB).toFixed(1)} MB, off ${(rss(off.pid) / MB).toFixed(1)} MB`);
  } finally {
    for (const server of servers) await server.stop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  }
  const memory = ringMemory();
  console.log(`ring of ${memory.count} entries: ${(memory.bytes / MB).toFixed(1)} MB of heap   target < 60 MB   ${memory.bytes < 60 * MB ? 'pass' : 'FAIL'}`);
  console.log(`load average at the end: ${load()}`);
}

await main();
