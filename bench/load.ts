// Load generators: wrk for request rates (its output parsed; ab for HEAD, which wrk 4.1 waits on for a
// body that never comes), curl for whole blob downloads (one or several in parallel) and for big
// uploads, and a crowd of idle sockets holding slow requests open. Every run is bounded in time; every
// child is waited for or killed by PID.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export interface WrkOptions {
  url: string;
  seconds: number;
  threads: number;
  connections: number;
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
}

export interface WrkResult {
  requestsPerSecond: number;
  bytesPerSecond: number;
  requests: number;
  /** Non-2xx/3xx responses plus socket errors: a run with any is not a valid figure. */
  errors: number;
  latencyMs: number;
}

const UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

function latencyMs(text: string): number {
  const match = /Latency\s+([\d.]+)(us|ms|s)\b/.exec(text);
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

/** Parses wrk's summary. Throws when the summary is not there (wrk failed). */
export function parseWrk(text: string): WrkResult {
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB|TB)/.exec(text);
  const total = /(\d+) requests in/.exec(text);
  if (!rate || !transfer || !total) throw new Error(`unexpected wrk output:\n${text}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requestsPerSecond: Number(rate[1]),
    bytesPerSecond: Number(transfer[1]) * (UNITS[transfer[2] ?? 'B'] ?? 1),
    requests: Number(total[1]),
    errors: non2xx + socketErrors,
    latencyMs: latencyMs(text),
  };
}

/** Runs a child to completion, killing it by PID after limitMs; resolves with its stdout. */
function run(command: string, args: string[], limitMs: number, stdin: 'ignore' | number = 'ignore'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [stdin, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    }, limitMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** One wrk run; HEAD requests go to ab instead (keep-alive, the same concurrency and duration). */
export async function wrk(options: WrkOptions): Promise<WrkResult> {
  if (options.method === 'HEAD') return apacheBench(options);
  const args = ['-t', String(options.threads), '-c', String(options.connections), '-d', `${options.seconds}s`, '--timeout', '10s'];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(options.url);
  const { stdout, stderr } = await run('wrk', args, (options.seconds + 30) * 1000);
  return parseWrk(`${stdout}\n${stderr}`);
}

/** Parses ab's summary. Throws when the summary is not there (ab failed). */
export function parseApacheBench(text: string): WrkResult {
  const rate = /Requests per second:\s+([\d.]+)/.exec(text);
  const complete = /Complete requests:\s+(\d+)/.exec(text);
  if (!rate || !complete) throw new Error(`unexpected ab output:\n${text}`);
  const failed = Number(/Failed requests:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const transfer = Number(/Transfer rate:\s+([\d.]+)/.exec(text)?.[1] ?? 0);
  const latency = Number(/Time per request:\s+([\d.]+) \[ms\] \(mean\)/.exec(text)?.[1] ?? NaN);
  return { requestsPerSecond: Number(rate[1]), bytesPerSecond: transfer * 1024, requests: Number(complete[1]), errors: failed + non2xx, latencyMs: latency };
}

/** ab -k (keep-alive) for options.seconds; -n after -t lifts ab's default cap of 50,000 requests. */
async function apacheBench(options: WrkOptions): Promise<WrkResult> {
  const args = ['-q', '-k', '-c', String(options.connections), '-t', String(options.seconds), '-n', '100000000', '-s', '10'];
  if (options.method === 'HEAD') args.push('-i');
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(options.url);
  const { stdout, stderr } = await run('ab', args, (options.seconds + 30) * 1000);
  return parseApacheBench(`${stdout}\n${stderr}`);
}

export interface DownloadResult {
  /** Aggregate bytes per second: all bytes over the wall time from the first start to the last end. */
  bytesPerSecond: number;
  seconds: number;
}

/**
 * Downloads url with `parallel` curl processes at once to /dev/null, each bounded by limitSeconds, and
 * checks every one got 200 and exactly expectedBytes.
 */
export async function download(url: string, parallel: number, expectedBytes: number, limitSeconds = 120): Promise<DownloadResult> {
  const started = performance.now();
  const runs = await Promise.all(
    Array.from({ length: parallel }, () =>
      run('curl', ['-s', '-o', '/dev/null', '--max-time', String(limitSeconds), '-w', '%{http_code} %{size_download}', url], (limitSeconds + 10) * 1000),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const result of runs) {
    const [status, size] = result.stdout.trim().split(' ');
    if (status !== '200' || Number(size) !== expectedBytes) {
      throw new Error(`download of ${url}: status ${status}, ${size} of ${expectedBytes} bytes ${result.stderr}`);
    }
  }
  return { bytesPerSecond: (parallel * expectedBytes) / seconds, seconds };
}

export interface UploadOptions {
  method: 'POST' | 'PUT' | 'PATCH';
  url: string;
  /** The whole file is the body. */
  file: string;
  headers?: Record<string, string>;
  limitSeconds?: number;
}

export interface UploadResult {
  status: number;
  /** The Location header, resolved against url. */
  location?: string;
  /** The start of the response body, for error messages. */
  body: string;
}

/**
 * Sends a file as one request body with curl, the way registry clients push: Content-Length declared,
 * no chunked encoding, no Expect: 100-continue. curl reads the file itself (as its stdin, so it never
 * appends the file name to a URL ending in '/'), which keeps the client's own CPU small: on two cores
 * a client that spends a CPU-second per GiB, as a Node one does, takes that second from the server
 * being measured.
 */
export async function upload(options: UploadOptions): Promise<UploadResult> {
  const limitSeconds = options.limitSeconds ?? 300;
  const size = fs.statSync(options.file).size;
  const args = ['-s', '-S', '-D', '-', '--max-time', String(limitSeconds), '-X', options.method, '-T', '-'];
  const headers = { 'Content-Type': 'application/octet-stream', ...options.headers, 'Content-Length': String(size), 'Transfer-Encoding': '', Expect: '' };
  for (const [name, value] of Object.entries(headers)) args.push('-H', value === '' ? `${name}:` : `${name}: ${value}`);
  args.push(options.url);
  const fd = fs.openSync(options.file, 'r');
  try {
    const { code, stdout, stderr } = await run('curl', args, (limitSeconds + 10) * 1000, fd);
    if (code !== 0) throw new Error(`curl ${options.method} ${options.url}: exit ${code} ${stderr.trim()}`);
    return parseCurlResponse(stdout, options.url);
  } finally {
    fs.closeSync(fd);
  }
}

/** Parses what `curl -D -` prints for one request: the status line and headers, a blank line, the body. */
export function parseCurlResponse(text: string, url: string): UploadResult {
  const end = text.indexOf('\r\n\r\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) throw new Error(`no HTTP status in curl's output: ${JSON.stringify(text.slice(0, 200))}`);
  let location: string | undefined;
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'location') location = new URL(line.slice(colon + 1).trim(), url).toString();
  }
  return { status, location, body: end < 0 ? '' : text.slice(end + 4, end + 304) };
}

export interface HeldRequests {
  /** Sockets still open with no response yet. */
  waiting(): number;
  /** Sockets that got any response bytes (a held request must get none while held). */
  answered(): number;
  close(): void;
}

/**
 * Opens count sockets to host:port, each sending one GET for path with Connection: close, and keeps
 * them open. Connects in batches (the listen backlog is finite), bounded by limitMs overall.
 */
export async function holdRequests(port: number, requestPath: string, count: number, limitMs = 30_000): Promise<HeldRequests> {
  const sockets: net.Socket[] = [];
  let answered = 0;
  const deadline = Date.now() + limitMs;
  const request = `GET ${requestPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`;
  const open = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      let gotData = false;
      socket.setTimeout(Math.max(1, deadline - Date.now()), () => reject(new Error('connect timed out')));
      socket.once('connect', () => {
        socket.setTimeout(0);
        socket.write(request);
        resolve(socket);
      });
      socket.on('data', () => {
        if (!gotData) answered++;
        gotData = true;
      });
      socket.on('error', (error) => reject(error));
    });
  try {
    for (let batch = 0; sockets.length < count && Date.now() < deadline && batch < count; batch++) {
      const size = Math.min(100, count - sockets.length);
      sockets.push(...(await Promise.all(Array.from({ length: size }, open))));
    }
  } catch (error) {
    for (const socket of sockets) socket.destroy();
    throw error;
  }
  if (sockets.length < count) {
    for (const socket of sockets) socket.destroy();
    throw new Error(`only ${sockets.length} of ${count} sockets opened in time`);
  }
  return {
    waiting: () => sockets.filter((socket) => !socket.destroyed && socket.bytesRead === 0).length,
    answered: () => answered,
    close: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}
