// Bad input, fuzzed: a few thousand malformed requests from a seeded generator (FUZZ_SEED to replay
// another run), each on its own raw socket. Every complete request gets a 4xx in the OCI envelope
// (or, by chance, a success); broken HTTP gets a 4xx or a closed connection; nothing gets a 5xx,
// hangs, crashes the server or writes outside the store. A good push and pull work afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { buildRegistry } from '../src/server/build.js';
import { listen } from '../src/server/listen.js';
import { resolveServeConfig } from '../src/config.js';
import { resolveProxyOptions } from '../src/proxy/index.js';
import type { RequestLogEntry } from '../src/server/log.js';
import { makeTempDir, type TestRegistry } from './helpers/registry.js';
import { REPO, getBytes, listFiles, ociImage, pushImage, sha256 } from './helpers/oci-http.js';
import { assertStoreIntact } from './helpers/integrity.js';
import { startFront } from './helpers/proxy.js';
import { Dice, fuzzCase, prng, send, sendHttp, type FuzzCase, type Outcome } from './helpers/fuzz.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const CASES = 3000;
/** Of which this many also go through node:http with streamed (chunked) bodies, some aborted. */
const HTTP_CASES = 400;
const PARALLEL = 24;
const BUDGET_MS = 60_000;
const SOCKET_TIMEOUT_MS = 8_000;

/** An upstream for names outside broken/: it knows nothing, so the proxy answers 4xx, never the internet. */
async function emptyUpstream(t: TestContext): Promise<string> {
  const front = await startFront(t, (req, res) => {
    const body = req.url === '/v2/' ? '{}' : '{"errors":[{"code":"NAME_UNKNOWN","message":"nothing here","detail":{}}]}';
    res.writeHead(req.url === '/v2/' ? 200 : 404, { 'Content-Type': 'application/json', 'Docker-Distribution-API-Version': 'registry/2.0' });
    res.end(body);
  });
  return front.host;
}

/** What is wrong with one outcome, or undefined when it follows the rules. */
function judge(outcome: Outcome): string | undefined {
  const { fuzz } = outcome;
  if (outcome.hung) return 'the server neither answered nor closed the connection';
  const answers = outcome.responses.filter((response) => response.status >= 200);
  if (answers.length === 0) return fuzz.complete ? 'a complete request got no answer (the connection closed)' : undefined;
  for (const [index, response] of answers.entries()) {
    if (response.status >= 500) return `answered ${response.status}: ${response.body.toString('utf8').slice(0, 200)}`;
    if (response.status < 400) continue;
    const fromApp = response.headers['docker-distribution-api-version'] === 'registry/2.0';
    if (!fromApp) {
      // Node's parser refusing broken HTTP: a bare 400 and a closed connection.
      if (fuzz.complete && index === 0) return `a complete request got a bare ${response.status}`;
      if (response.status !== 400 || response.headers.connection !== 'close') return `a bare ${response.status} that does not close`;
      continue;
    }
    if (fuzz.method === 'HEAD' && index === 0) continue; // no body to hold an envelope
    try {
      const envelope = JSON.parse(response.body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
      const [error] = envelope.errors ?? [];
      if (typeof error?.code !== 'string' || typeof error.message !== 'string') return `no OCI envelope: ${response.body.toString('utf8').slice(0, 200)}`;
    } catch {
      return `a ${response.status} whose body is not JSON: ${response.body.toString('latin1').slice(0, 200)}`;
    }
  }
  return undefined;
}

function describe(fuzz: FuzzCase): string {
  const head = Buffer.concat(fuzz.parts).toString('latin1').split('\r\n')[0] ?? '';
  return `#${fuzz.id} ${fuzz.kind}: ${head.length > 160 ? `${head.slice(0, 160)}...(${head.length})` : head}`;
}

test(`${CASES} raw and ${HTTP_CASES} node:http fuzzed malformed requests (seed ${SEED}): 4xx in the envelope or a closed connection, never a 5xx, a hang or a write outside the store`, async (t) => {
  const base = await makeTempDir(t, 'broken-reg-fuzz-');
  const storeDir = path.join(base, 'store');
  const sentinel = path.join(base, 'sentinel');
  await fs.mkdir(sentinel);
  await fs.writeFile(path.join(sentinel, 'keep'), 'must not change');
  const outside = async () => (await listFiles(base)).filter((file) => !file.startsWith(`store${path.sep}`));
  const before = await outside();

  const upstream = await emptyUpstream(t);
  const config = {
    ...resolveServeConfig({ store: storeDir, port: '0' }, {}),
    limits: { maxTimeoutMs: 1_000, maxLayers: 2, maxRandomSize: 4096 },
    proxy: resolveProxyOptions({ upstream, allowUpstream: [upstream], upstreamInsecure: [upstream] }),
  };
  const logs: RequestLogEntry[] = [];
  const { app, deps } = await buildRegistry({ config, log: (entry) => logs.push(entry) });
  const server = await listen(app, { host: '127.0.0.1', port: 0, timeouts: { headersMs: 1_000, bodyIdleMs: 500 } });
  t.after(() => server.close(0));
  const registry = { url: server.url, host: `127.0.0.1:${server.port}`, port: server.port, storeDir, deps, logs, server } as unknown as TestRegistry;

  const dice = new Dice(prng(SEED));
  const cases = Array.from({ length: CASES }, (_, id) => fuzzCase(dice, id, registry.host));
  const deadline = Date.now() + BUDGET_MS;
  const problems: string[] = [];
  const tally = new Map<string, number>();
  let next = 0;
  let sent = 0;
  const worker = async () => {
    while (next < cases.length && Date.now() < deadline) {
      const fuzz = cases[next++] as FuzzCase;
      const outcome = await send(registry.port, fuzz, SOCKET_TIMEOUT_MS);
      sent++;
      const problem = judge(outcome);
      if (problem) problems.push(`${describe(fuzz)}\n    ${problem}`);
      const key = outcome.responses[0] ? String(outcome.responses.find((r) => r.status >= 200)?.status ?? outcome.responses[0].status) : outcome.hung ? 'hung' : 'closed';
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));

  // The node:http phase: bodies streamed in random chunks, a quarter of them aborted half-way.
  const httpDice = new Dice(prng(SEED + 1));
  let httpNext = 0;
  const httpWorker = async () => {
    while (httpNext < Math.min(HTTP_CASES, cases.length) && Date.now() < deadline) {
      const fuzz = cases[httpNext++] as FuzzCase;
      const outcome = await sendHttp(registry.port, httpDice, fuzz, SOCKET_TIMEOUT_MS);
      sent++;
      if (outcome.error === 'timeout') problems.push(`${describe(fuzz)} (http)\n    the server neither answered nor closed the connection`);
      if (outcome.status !== undefined && outcome.status >= 500) problems.push(`${describe(fuzz)} (http)\n    answered ${outcome.status}`);
      if (outcome.status !== undefined && outcome.status >= 400 && outcome.headers?.['docker-distribution-api-version'] === 'registry/2.0') {
        const text = outcome.body?.toString('utf8') ?? '';
        if (!text.startsWith('{"errors":[')) problems.push(`${describe(fuzz)} (http)\n    no OCI envelope: ${text.slice(0, 200)}`);
      }
      const key = `http-${outcome.status ?? (outcome.aborted ? 'aborted' : outcome.error ?? 'closed')}`;
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, httpWorker));
  t.diagnostic(`seed ${SEED}: ${sent} cases; answers ${[...tally].sort().map(([k, v]) => `${k}:${v}`).join(' ')}`);

  assert.deepEqual(problems.slice(0, 25), [], `${problems.length} problems`);
  assert.ok(sent >= 1000, `at least 1000 cases within the budget (sent ${sent})`);
  const serverErrors = logs.filter((entry) => entry.status >= 500 || entry.internal !== undefined);
  assert.deepEqual(
    serverErrors.slice(0, 10).map((entry) => `${entry.method} ${entry.path.slice(0, 120)} ${entry.status} ${entry.error ?? ''} ${String(entry.internal ?? '')}`),
    [],
    'the server logged no 5xx and no internal error',
  );

  // Nothing outside the store changed, and the store is whole.
  assert.deepEqual(await outside(), before, 'files beside the store');
  assert.equal(await fs.readFile(path.join(sentinel, 'keep'), 'utf8'), 'must not change');
  await assertStoreIntact(storeDir, 'after the fuzz');

  // And it still serves a good push and pull.
  const image = ociImage({ seed: 801, layerCount: 2, layerSize: 64 * 1024 });
  await pushImage(registry, REPO, 'after-fuzz', image);
  const manifest = await getBytes(registry, `/v2/${REPO}/manifests/after-fuzz`, { headers: { Accept: image.manifest.mediaType } });
  assert.equal(sha256(manifest.body), image.manifest.digest);
  for (const blob of [image.config, ...image.layers]) assert.equal(sha256((await getBytes(registry, `/v2/${REPO}/blobs/${blob.digest}`)).body), blob.digest);
});
