// bench:auth: the cost of --auth token on the hot path. Two broken-reg processes side by side, one
// with --auth none and one with --auth token (a bearer token fetched once from its /token realm),
// each serving the same small image; wrk measures manifest GETs against each, alternating, for several
// rounds. Prints each round and the median ratio token / none (target: at least 0.85).
//
//   node dist/bench/auth.js [seconds [rounds]]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { pushSmallImage, smallImage, startBrokenReg, type ServerProcess } from './reference.js';
import { wrk } from './load.js';

const seconds = Number(process.argv[2] ?? 10);
const rounds = Number(process.argv[3] ?? 5);
const REPO = 'broken/prepared/bench/auth';
const TARGET = 0.85;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-reg-bench-auth-'));
  const servers: ServerProcess[] = [];
  try {
    const htpasswd = path.join(dir, 'htpasswd');
    fs.writeFileSync(htpasswd, execFileSync('htpasswd', ['-nbB', 'bench', 'bench-password'], { timeout: 15_000 }));
    const open = await startBrokenReg(path.join(dir, 'store-none'), ['--log-format', 'text']);
    servers.push(open);
    const image = smallImage();
    await pushSmallImage(open.url, REPO, 'v1', image);
    // The token server serves a copy of the same store: the same bytes, no store shared between processes.
    fs.cpSync(path.join(dir, 'store-none'), path.join(dir, 'store-token'), { recursive: true });
    const guarded = await startBrokenReg(path.join(dir, 'store-token'), ['--auth', 'token', '--htpasswd', htpasswd]);
    servers.push(guarded);
    const answer = await request(`${guarded.url}/token?service=broken-reg&scope=repository:${REPO}:pull`, {
      headers: { authorization: `Basic ${Buffer.from('bench:bench-password').toString('base64')}` },
    });
    const { token } = (await answer.body.json()) as { token: string };
    const manifest = `/v2/${REPO}/manifests/v1`;
    const check = await request(`${guarded.url}${manifest}`, { headers: { authorization: `Bearer ${token}`, accept: image.mediaType } });
    await check.body.dump();
    if (check.statusCode !== 200) throw new Error(`the token does not pull: ${check.statusCode}`);

    console.log(`bench:auth: manifest GET, wrk 2 threads 64 connections ${seconds}s, ${rounds} rounds alternating; ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const ratios: number[] = [];
    const common = { seconds, threads: 2, connections: 64 };
    const runNone = (time = seconds) => wrk({ ...common, seconds: time, url: `${open.url}${manifest}`, headers: { Accept: image.mediaType } });
    const runToken = (time = seconds) => wrk({ ...common, seconds: time, url: `${guarded.url}${manifest}`, headers: { Accept: image.mediaType, Authorization: `Bearer ${token}` } });
    // An untimed run of each first, so both servers' code is compiled before it is timed.
    await runNone(Math.min(seconds, 3));
    await runToken(Math.min(seconds, 3));
    for (let round = 1; round <= rounds; round++) {
      // The order alternates by round, so a drift in the machine's load falls on both.
      let none: Awaited<ReturnType<typeof runNone>>;
      let tokened: Awaited<ReturnType<typeof runToken>>;
      if (round % 2) {
        none = await runNone();
        tokened = await runToken();
      } else {
        tokened = await runToken();
        none = await runNone();
      }
      if (none.errors > 0 || tokened.errors > 0) throw new Error(`round ${round}: errors (none ${none.errors}, token ${tokened.errors})`);
      const ratio = tokened.requestsPerSecond / none.requestsPerSecond;
      ratios.push(ratio);
      console.log(`  round ${round}: --auth none ${none.requestsPerSecond.toFixed(0)} req/s, --auth token ${tokened.requestsPerSecond.toFixed(0)} req/s, ratio ${ratio.toFixed(3)} (load ${os.loadavg()[0]?.toFixed(1)})`);
    }
    const result = median(ratios);
    console.log(`median ratio token/none: ${result.toFixed(3)} (target >= ${TARGET}: ${result >= TARGET ? 'met' : 'NOT met'})`);
  } finally {
    for (const server of servers) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
