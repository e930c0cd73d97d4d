// The servers a benchmark compares: broken-reg (the real binary), CNCF distribution (Debian's
// docker-registry) and nginx (the ceiling for serving a file), each on 127.0.0.1, a free port and a
// temp directory, stopped by PID. Also the content every registry gets first: a small image and a big
// blob, pushed over HTTP the same way to each.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { upload, type UploadResult } from './load.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/broken-reg.js');
const MIB = 1024 * 1024;
/** The PATCH size of a chunked push. */
const CHUNK = 64 * MIB;

export interface ServerProcess {
  name: string;
  url: string;
  pid: number;
  /** Peak resident set size in bytes (VmHWM) since start or the last resetPeak(); 0 when gone. */
  peakRss(): number;
  /** Starts a new VmHWM window (writes 5 to /proc/PID/clear_refs). */
  resetPeak(): void;
  /** The end of what it printed ('' when its output goes to /dev/null), for a failure's message. */
  logTail(): string;
  stop(): Promise<void>;
}

/** A port the OS says is free now (the server binds it right after; tests race, a benchmark may). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function procStatus(pid: number, field: string): number {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Spawns command with stdout and stderr to a file (or /dev/null), waits for url + probe to answer. */
async function startProcess(name: string, command: string, args: string[], url: string, probe: string, logFile = '/dev/null'): Promise<ServerProcess> {
  const out = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', out, out], env: { PATH: process.env.PATH, HOME: process.env.HOME } });
  fs.closeSync(out);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${name}: could not spawn ${command}`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle: ServerProcess = {
    name,
    url,
    pid,
    peakRss: () => procStatus(pid, 'VmHWM'),
    resetPeak: () => {
      try {
        fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
      } catch {
        // an older kernel: the peak is then since start
      }
    },
    logTail: () => {
      if (logFile === '/dev/null') return '';
      try {
        return fs.readFileSync(logFile, 'utf8').slice(-2000);
      } catch {
        return '';
      }
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
      }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  // Bounded: at most 15 s and 300 probes.
  const deadline = Date.now() + 15_000;
  for (let attempt = 0; attempt < 300 && Date.now() < deadline; attempt++) {
    if (child.exitCode !== null) break;
    try {
      const { statusCode, body } = await request(`${url}${probe}`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
      await body.dump();
      if (statusCode < 500) return handle;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await handle.stop();
  const log = handle.logTail();
  throw new Error(`${name} did not start on ${url}${log ? `:\n${log}` : ''}`);
}

/**
 * `broken-reg serve` on a store, text request log to /dev/null as a user would run it; nodeArgs go to
 * node before the script (e.g. --cpu-prof).
 */
export async function startBrokenReg(store: string, args: string[] = [], nodeArgs: string[] = [], logFile?: string): Promise<ServerProcess> {
  const port = await freePort();
  return startProcess(
    'broken-reg',
    process.execPath,
    [...nodeArgs, BIN, 'serve', '--host', '127.0.0.1', '--port', String(port), '--store', store, '--log-format', 'text', ...args],
    `http://127.0.0.1:${port}`,
    '/v2/',
    logFile,
  );
}

/**
 * broken-reg as a pull-through proxy of upstream (host:port, plain HTTP, on loopback); with logFile,
 * its request log and warnings (a blob not stored) go there, a few lines per pull.
 */
export function startBrokenRegProxy(store: string, upstream: string, nodeArgs: string[] = [], logFile?: string): Promise<ServerProcess> {
  return startBrokenReg(store, ['--upstream', upstream, '--upstream-insecure', upstream, '--allow-upstream', upstream], nodeArgs, logFile);
}

/**
 * CNCF distribution with filesystem storage in dir, quiet logs; with remoteUrl it is a pull-through
 * cache of that registry (`proxy: {remoteurl}`), as users run it in front of Docker Hub.
 */
export async function startDistribution(dir: string, remoteUrl?: string): Promise<ServerProcess> {
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  fs.writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...(remoteUrl ? ['proxy:', `  remoteurl: ${remoteUrl}`] : []),
      '',
    ].join('\n'),
  );
  return startProcess('distribution', '/usr/bin/docker-registry', ['serve', config], `http://127.0.0.1:${port}`, '/v2/', path.join(dir, 'registry.log'));
}

/** nginx serving root as static files with sendfile, one worker per CPU, no access log. */
export async function startNginx(dir: string, root: string): Promise<ServerProcess> {
  const port = await freePort();
  const config = path.join(dir, 'nginx.conf');
  const temp = (name: string) => path.join(dir, name);
  fs.writeFileSync(
    config,
    `daemon off;
worker_processes auto;
pid ${temp('nginx.pid')};
error_log ${temp('error.log')} error;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path ${temp('body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`,
  );
  return startProcess('nginx', '/usr/sbin/nginx', ['-c', config, '-p', dir, '-e', temp('error.log')], `http://127.0.0.1:${port}`, '/');
}

/** The push ceiling's server: reads every request body to the end, keeps nothing, answers like an upload flow. */
const SINK_SOURCE = `
const http = require('node:http');
http.createServer({ requestTimeout: 0 }, (req, res) => {
  req.on('data', () => undefined);
  req.on('end', () => {
    const done = req.method === 'PUT' || req.url.includes('digest=');
    res.writeHead(req.method === 'GET' ? 200 : done ? 201 : 202, { 'Content-Length': 0, Location: '/v2/sink/blobs/uploads/session' });
    res.end();
  });
}).listen(Number(process.argv[1]), '127.0.0.1');
`;

/**
 * A plain Node server that reads pushed bodies and throws them away (answering POST and PATCH with 202
 * and a Location, PUT or ?digest= with 201): what a push costs the client and the loopback alone, the
 * ceiling for pushes as nginx is for pulls (nginx answers an unread body early, so it cannot be one).
 */
export async function startSink(): Promise<ServerProcess> {
  const port = await freePort();
  return startProcess('sink', process.execPath, ['-e', SINK_SOURCE, String(port)], `http://127.0.0.1:${port}`, '/v2/');
}

// ---- content ----

export interface BigBlob {
  file: string;
  size: number;
  digest: string;
}

/** Writes size bytes to file: a 4 MiB random block, varied per chunk so no two chunks are equal. */
export function writeBigBlob(file: string, size: number): BigBlob {
  const block = randomFillSync(Buffer.allocUnsafe(4 * MIB));
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'w');
  try {
    for (let offset = 0, n = 0; offset < size; offset += block.length, n++) {
      block.writeUInt32LE(n, 0);
      const chunk = block.subarray(0, Math.min(block.length, size - offset));
      hash.update(chunk);
      fs.writeSync(fd, chunk);
    }
  } finally {
    fs.closeSync(fd);
  }
  return { file, size, digest: `sha256:${hash.digest('hex')}` };
}

export interface SmallImage {
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
  blobs: { digest: string; bytes: Buffer; mediaType: string }[];
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A small OCI image: a config and one 32 KiB layer, the same bytes for every registry in a run. */
export function smallImage(): SmallImage {
  const layer = randomFillSync(Buffer.alloc(32 * 1024));
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }));
  const blobs = [
    { digest: sha256(config), bytes: config, mediaType: 'application/vnd.oci.image.config.v1+json' },
    { digest: sha256(layer), bytes: layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
  ];
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: blobs[0]?.mediaType, digest: blobs[0]?.digest, size: config.length },
      layers: [{ mediaType: blobs[1]?.mediaType, digest: blobs[1]?.digest, size: layer.length }],
    }),
  );
  return { manifest, manifestDigest: sha256(manifest), mediaType, blobs };
}

async function expectStatus(what: string, response: Awaited<ReturnType<typeof request>>, statuses: number[]): Promise<void> {
  if (!statuses.includes(response.statusCode)) {
    const text = (await response.body.text()).slice(0, 300);
    throw new Error(`${what}: status ${response.statusCode}: ${text}`);
  }
}

function location(base: string, response: Awaited<ReturnType<typeof request>>): string {
  const header = response.headers.location;
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) throw new Error('upload response without Location');
  return new URL(value, base).toString();
}

function withDigest(url: string, digest: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

/** Pushes a small in-memory blob: POST, then PUT ?digest= with the body (what every client does). */
async function pushSmallBlob(base: string, repo: string, digest: string, bytes: Buffer): Promise<void> {
  const start = await request(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await expectStatus('POST upload', start, [202]);
  await start.body.dump();
  const put = await request(withDigest(location(base, start), digest), {
    method: 'PUT',
    body: bytes,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
  });
  await expectStatus('PUT upload', put, [201]);
  await put.body.dump();
}

export async function pushSmallImage(base: string, repo: string, tag: string, image: SmallImage): Promise<void> {
  for (const blob of image.blobs) await pushSmallBlob(base, repo, blob.digest, blob.bytes);
  const put = await request(`${base}/v2/${repo}/manifests/${tag}`, { method: 'PUT', body: image.manifest, headers: { 'content-type': image.mediaType } });
  await expectStatus('PUT manifest', put, [201]);
  await put.body.dump();
}

export type PushMode = 'monolithic' | 'chunked';

export interface PushResult {
  seconds: number;
  /** How the monolithic push went: one POST ?digest=, or POST then PUT with the body when refused. */
  method: string;
}

/**
 * The blob cut into files of chunk bytes (the last one shorter), written once beside it, so that curl
 * can send each PATCH straight from a file. Call it before the servers start: it blocks the event loop
 * for seconds, and an idle keep-alive connection the server closed meanwhile would be reused.
 */
export function blobParts(blob: BigBlob, chunk = CHUNK): { file: string; start: number; end: number }[] {
  const parts: { file: string; start: number; end: number }[] = [];
  for (let start = 0, n = 0; start < blob.size && n < 100_000; start += chunk, n++) {
    const end = Math.min(blob.size, start + chunk) - 1;
    const file = `${blob.file}.${chunk}.${n}`;
    if (!fs.existsSync(file) || fs.statSync(file).size !== end - start + 1) {
      const bytes = Buffer.allocUnsafe(end - start + 1);
      const fd = fs.openSync(blob.file, 'r');
      try {
        for (let done = 0; done < bytes.length; ) {
          const read = fs.readSync(fd, bytes, done, bytes.length - done, start + done);
          if (read === 0) throw new Error(`${blob.file} is shorter than ${blob.size} bytes`);
          done += read;
        }
      } finally {
        fs.closeSync(fd);
      }
      fs.writeFileSync(file, bytes);
    }
    parts.push({ file, start, end });
  }
  return parts;
}

async function expectUploaded(what: string, response: UploadResult, statuses: number[]): Promise<UploadResult> {
  if (!statuses.includes(response.status)) throw new Error(`${what}: status ${response.status}: ${response.body}`);
  return response;
}

/**
 * Pushes the big blob from its file and times it; curl sends every body (see upload in load.ts).
 * monolithic: POST ?digest= with the whole body (a registry that answers 202 instead, as distribution
 * does, gets the body in the PUT ?digest= that follows). chunked: POST, PATCH chunks with
 * Content-Range, PUT ?digest= without a body.
 */
export async function pushBigBlob(base: string, repo: string, blob: BigBlob, mode: PushMode, chunk = CHUNK): Promise<PushResult> {
  const parts = mode === 'chunked' ? blobParts(blob, chunk) : [];
  const started = performance.now();
  let method = 'POST ?digest=';
  if (mode === 'monolithic') {
    const post = await upload({ method: 'POST', url: withDigest(`${base}/v2/${repo}/blobs/uploads/`, blob.digest), file: blob.file });
    await expectUploaded('POST ?digest=', post, [201, 202]);
    if (post.status === 202) {
      method = 'POST, PUT ?digest= with body';
      if (!post.location) throw new Error('upload response without Location');
      await expectUploaded('PUT ?digest=', await upload({ method: 'PUT', url: withDigest(post.location, blob.digest), file: blob.file }), [201]);
    }
    return { seconds: (performance.now() - started) / 1000, method };
  }
  const post = await request(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await expectStatus('POST upload', post, [202]);
  await post.body.dump();
  let next = location(base, post);
  for (const part of parts) {
    const patch = await upload({ method: 'PATCH', url: next, file: part.file, headers: { 'Content-Range': `${part.start}-${part.end}` } });
    await expectUploaded(`PATCH ${part.start}-${part.end}`, patch, [202]);
    if (!patch.location) throw new Error('PATCH response without Location');
    next = patch.location;
  }
  const put = await request(withDigest(next, blob.digest), { method: 'PUT', headers: { 'content-length': '0' } });
  await expectStatus('PUT ?digest=', put, [201]);
  await put.body.dump();
  return { seconds: (performance.now() - started) / 1000, method: `POST, ${parts.length} PATCH of ${chunk / MIB} MiB, PUT` };
}

/** Puts file at root/<url path>, so nginx serves it at the same path as the registries. */
export function mirrorFile(root: string, urlPath: string, source: string | Buffer): void {
  const target = path.join(root, ...urlPath.split('/').filter(Boolean));
  fs.mkdirSync(path.dirname(target), { recursive: true });
  if (typeof source === 'string') fs.linkSync(source, target);
  else fs.writeFileSync(target, source);
}
