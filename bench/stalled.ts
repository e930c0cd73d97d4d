// Readers that never read: N clients each open a GET of a large blob and then stop reading. What each
// one costs the server is the growth of its resident memory (VmRSS), beside distribution given the
// same clients. Target: 1,000 stalled readers add under 150 MB to broken-reg.
//
//   node dist/bench/stalled.js [readers [rounds [MiB]]]      defaults: 1000 readers, 3 rounds, 200 MiB
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pushBigBlob, startBrokenReg, startDistribution, writeBigBlob, type ServerProcess } from './reference.js';

const MIB = 1024 * 1024;
const readers = Number(process.argv[2] ?? 1000);
const rounds = Number(process.argv[3] ?? 3);
const size = Number(process.argv[4] ?? 200) * MIB;

function rss(pid: number): number {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(text)?.[1] ?? 0) * 1024;
}

/** RSS once it has stopped moving (two samples 500 ms apart within 1 MB), at most 10 s of waiting. */
async function settledRss(pid: number): Promise<number> {
  let last = rss(pid);
  for (let i = 0; i < 20; i++) {
    await delay(500);
    const now = rss(pid);
    if (Math.abs(now - last) < MIB) return now;
    last = now;
  }
  return last;
}

/** Opens count connections that each ask for the blob and never read a byte of the answer. */
async function stallReaders(port: number, urlPath: string, count: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.pause(); // nothing is ever read
    socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    sockets.push(socket);
  }
  return sockets;
}

async function measure(server: ServerProcess, repo: string, digest: string): Promise<number> {
  const port = Number(new URL(server.url).port);
  const before = await settledRss(server.pid);
  const sockets = await stallReaders(port, `/v2/${repo}/blobs/${digest}`, readers);
  const after = await settledRss(server.pid);
  for (const socket of sockets) socket.destroy();
  await delay(500);
  return after - before;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-stalled-'));
  const servers: ServerProcess[] = [];
  try {
    const blob = writeBigBlob(path.join(dir, 'blob'), size);
    const ours = await startBrokenReg(path.join(dir, 'store'));
    servers.push(ours);
    fs.mkdirSync(path.join(dir, 'distribution'));
    const theirs = await startDistribution(path.join(dir, 'distribution'));
    servers.push(theirs);
    const repo = 'broken/prepared/stalled';
    await pushBigBlob(ours.url, repo, blob, 'monolithic');
    await pushBigBlob(theirs.url, repo, blob, 'monolithic');
    const figures: Record<string, number[]> = { 'broken-reg': [], distribution: [] };
    for (let round = 0; round < rounds; round++) {
      figures['broken-reg']?.push(await measure(ours, repo, blob.digest));
      figures.distribution?.push(await measure(theirs, repo, blob.digest));
    }
    const load = os.loadavg().map((value) => value.toFixed(1)).join(' ');
    const ourMedian = median(figures['broken-reg'] ?? []);
    console.log(`${readers} stalled readers of a ${size / MIB} MiB blob, RSS growth, median of ${rounds} rounds (each: ${JSON.stringify(figures)}), load ${load}`);
    console.log(`broken-reg    ${(ourMedian / MIB).toFixed(1)} MB  (${(ourMedian / readers / 1024).toFixed(0)} KiB per reader)  target < 150 MB: ${ourMedian < 150 * MIB ? 'PASS' : 'FAIL'}`);
    const theirMedian = median(figures.distribution ?? []);
    console.log(`distribution  ${(theirMedian / MIB).toFixed(1)} MB  (${(theirMedian / readers / 1024).toFixed(0)} KiB per reader)`);
  } finally {
    for (const server of servers) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
