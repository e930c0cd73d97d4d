// Where a cold pull through the proxy spends its CPU: one 1 GiB blob pulled with curl through a fresh
// broken-reg proxy of a local distribution, with the CPU seconds of each of the proxy's threads over
// the pull (until the blob is in its store), and (BENCH_PROXY_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR")
// V8 profiles of its threads.
// Run: npx tsc -p . && node dist/bench/proxy-profile.js [size-in-MiB]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { download } from './load.js';
import { pushBigBlob, startBrokenRegProxy, startDistribution, writeBigBlob } from './reference.js';
import { cpuSeconds, made, peakRss, threadCpu, threadDelta, threadText } from './proc.js';

const SIZE = Number(process.argv[2] ?? 1024) * 1024 * 1024;
const NAME = 'bench/big';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-reg-profile-'));
const stops: (() => Promise<void>)[] = [];
try {
  const blob = writeBigBlob(path.join(dir, 'blob'), SIZE);
  const upstream = await startDistribution(made(path.join(dir, 'upstream')));
  stops.push(() => upstream.stop());
  await pushBigBlob(upstream.url, NAME, blob, 'monolithic');
  fs.rmSync(blob.file);
  await download(`${upstream.url}/v2/${NAME}/blobs/${blob.digest}`, 1, SIZE); // into the page cache
  const nodeArgs = (process.env.BENCH_PROXY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const proxy = await startBrokenRegProxy(path.join(dir, 'store'), new URL(upstream.url).host, nodeArgs);
  stops.push(() => proxy.stop());
  const [threadsBefore, proxyBefore, upstreamBefore] = [threadCpu(proxy.pid), cpuSeconds(proxy.pid), cpuSeconds(upstream.pid)];
  const started = performance.now();
  const { seconds } = await download(`${proxy.url}/v2/${NAME}/blobs/${blob.digest}`, 1, SIZE);
  const [atClient, upstreamAtClient] = [cpuSeconds(proxy.pid) - proxyBefore, cpuSeconds(upstream.pid) - upstreamBefore];
  // The client may have every byte before the store does (its writes went on from a second request).
  const stored = path.join(dir, 'store/blobs/sha256', blob.digest.slice(7, 9), blob.digest.slice(7));
  while (!fs.existsSync(stored)) await new Promise((resolve) => setTimeout(resolve, 10));
  const storedSeconds = (performance.now() - started) / 1000;
  const threads = threadDelta(threadsBefore, threadCpu(proxy.pid));
  console.log(`cold pull of ${SIZE >> 20} MiB through broken-reg: ${seconds.toFixed(2)} s, stored at ${storedSeconds.toFixed(2)} s, load ${os.loadavg()[0]?.toFixed(1)}`);
  console.log(`when the client had every byte: proxy ${atClient.toFixed(2)} CPU-s, upstream ${upstreamAtClient.toFixed(2)} CPU-s; once stored:`);
  console.log(`proxy ${(cpuSeconds(proxy.pid) - proxyBefore).toFixed(2)} CPU-s, upstream ${(cpuSeconds(upstream.pid) - upstreamBefore).toFixed(2)} CPU-s, proxy peak RSS ${(peakRss(proxy.pid) / 1e6).toFixed(0)} MB`);
  console.log(`proxy threads (CPU-s): ${threadText(threads)}`);
} finally {
  for (const stop of stops.reverse()) await stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
