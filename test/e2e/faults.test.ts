// Real clients against broken/fault: docker (a private dockerd), podman and skopeo run every row of
// the README table "What clients do" and each cell is asserted against what the client did, so the
// table cannot drift. A cell starts with the outcome (pulls, pushes or fails); `text` in backticks
// must appear in the client's output; "retries" means some request was made again, "no retry" that
// none was; "honours Retry-After" that the next try came no sooner than it said.
// Every client and row gets its own broken/random image (its own seed), so no cache stands in.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry, type TestRegistry } from '../helpers/registry.js';
import { createPodman, createSkopeo, missingTools, ok, requireTools, Scope, startDockerd, tempDir, type RunResult } from '../helpers/clients.js';
import type { RequestLogEntry } from '../../src/server/log.js';

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../README.md');
const CLIENTS = ['docker', 'podman', 'skopeo'] as const;
type Client = (typeof CLIENTS)[number];
const CALL_TIMEOUT_MS = 150_000;

export interface Row {
  rules: string;
  /** pull, pull by digest, or push. */
  request: string;
  cells: Record<Client, string>;
}

/** The rows of the README table under "### What clients do" (read when the file loads: a test per row). */
export function readmeRows(): Row[] {
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf('### What clients do');
  assert.ok(start >= 0, 'README.md has a "### What clients do" section');
  const lines = readme.slice(start).split('\n');
  const rows: Row[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith('#')) break;
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    const rules = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (!rules || cells.length !== 5) continue;
    rows.push({ rules, request: cells[1] ?? '', cells: { docker: cells[2] ?? '', podman: cells[3] ?? '', skopeo: cells[4] ?? '' } });
  }
  assert.ok(rows.length >= 9, `the table has a row per fault (found ${rows.length})`);
  return rows;
}

interface Outcome {
  result: RunResult;
  /** The image (or pushed manifest) is where the client put it. */
  landed: boolean;
  /** The log lines of the faulted name during the run. */
  logs: RequestLogEntry[];
}

/** The request a log line counts as, with upload session ids left out (as the fault counts them). */
function requestOf(entry: RequestLogEntry): string {
  return `${entry.method} ${entry.path.split('?')[0]?.replace(/\/blobs\/uploads\/[^/]+$/, '/blobs/uploads/')}`;
}

/** Each client pulls its own image, so a request made twice is a retry (a cut body logs as a 200). */
function pullRetried(logs: RequestLogEntry[]): boolean {
  const seen = new Set<string>();
  for (const entry of logs) {
    const request = `${entry.method} ${entry.path.split('?')[0]}`;
    if (seen.has(request)) return true;
    seen.add(request);
  }
  return false;
}

/**
 * A push retried an upload when it sent more PATCHes than there are blobs to push (each blob is
 * asked for with HEAD first; uploads run in parallel, so PATCHes of different blobs cannot be told
 * apart by their session paths).
 */
function pushRetried(logs: RequestLogEntry[]): boolean {
  const blobs = new Set(logs.filter((entry) => entry.method === 'HEAD' && entry.path.includes('/blobs/sha256:')).map((entry) => entry.path));
  return logs.filter((entry) => entry.method === 'PATCH').length > blobs.size;
}

/** What a client did, for the test's output (and for writing the table). */
function observed(outcome: Outcome): string {
  const statuses = outcome.logs.map((entry) => `${entry.method} ${entry.status}${entry.error ? ` ${entry.error}` : ''}`).join(', ');
  const lines = outcome.result.stderr.trim().split('\n').slice(-3).join(' / ');
  return `exit ${outcome.result.code}${outcome.result.timedOut ? ' (timed out)' : ''} in ${Math.round(outcome.result.ms)} ms, landed ${outcome.landed}; requests: ${statuses}; stderr: ${lines.slice(0, 600)}`;
}

function check(client: Client, row: Row, outcome: Outcome): void {
  const cell = row.cells[client];
  const output = `${outcome.result.stdout}\n${outcome.result.stderr}`;
  const what = `${client}, ${row.rules} (${row.request}): the README says "${cell}"; exit ${outcome.result.code}${outcome.result.timedOut ? ' (timed out)' : ''}, output:\n${output.slice(-1500)}`;
  const word = /^(pulls|pushes|fails)\b/.exec(cell)?.[1];
  assert.ok(word, `${what}\n(a cell starts with pulls, pushes or fails)`);
  assert.equal(outcome.result.code === 0 ? 'ok' : 'failed', word === 'fails' ? 'failed' : 'ok', what);
  assert.equal(outcome.landed, word !== 'fails', `${what}\n(the image ${word === 'fails' ? 'must not' : 'must'} be in the client's store)`);
  for (const [, text] of cell.matchAll(/`([^`]+)`/g)) assert.ok(output.includes(text as string), `${what}\n(missing \`${text}\`)`);
  const faulted = outcome.logs.filter((entry) => entry.status >= 400 || entry.error !== undefined);
  const retried = row.request === 'push' ? pushRetried(outcome.logs) : pullRetried(outcome.logs);
  if (/\bno retry\b/.test(cell)) assert.equal(retried, false, `${what}\n(a faulted request was made again)`);
  else if (/\bretries\b/.test(cell)) assert.equal(retried, true, `${what}\n(no faulted request was made again)`);
  if (/honours Retry-After/.test(cell)) {
    const first = faulted[0];
    assert.ok(first, what);
    const again = outcome.logs.find((entry) => entry !== first && requestOf(entry) === requestOf(first));
    assert.ok(again, `${what}\n(no second try)`);
    const gap = Date.parse(again.time) - again.ms - Date.parse(first.time);
    assert.ok(gap >= 1900, `${what}\n(the next try came ${gap} ms after the 429)`);
  }
}

describe('real clients against broken/fault, as the README table says', { timeout: 1_500_000 }, () => {
  const scope = new Scope();
  let registry: TestRegistry;
  const rows = readmeRows();
  let work: string;

  before(async () => {
    registry = await startRegistry(scope.context);
    const dir = await tempDir('broken-reg-faults-');
    scope.after(dir.remove);
    work = dir.dir;
  });
  after(() => scope.close());

  const image = (row: number, client: number) => `broken/random:layers-2_size-256k_seed-${9000 + row * 10 + client}`;

  /** The manifest digest of an image, as the registry serves it. */
  async function digestOf(ref: string): Promise<string> {
    const [name, tag] = ref.split(':');
    const response = await fetch(`${registry.url}/v2/${name}/manifests/${tag}`, {
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      signal: AbortSignal.timeout(30_000),
    });
    await response.arrayBuffer();
    const digest = response.headers.get('docker-content-digest');
    assert.ok(digest);
    return digest;
  }

  async function manifestExists(name: string, tag: string): Promise<boolean> {
    const response = await fetch(`${registry.url}/v2/${name}/manifests/${tag}`, { method: 'HEAD', signal: AbortSignal.timeout(30_000) });
    return response.status === 200;
  }

  /** Runs one row for one client: the client's own command, with its default retries. */
  type Runner = (row: Row, index: number) => Promise<Outcome>;

  async function observe(row: Row, run: () => Promise<{ result: RunResult; landed: () => Promise<boolean> }>): Promise<Outcome> {
    const from = registry.logs.length;
    const { result, landed } = await run();
    const logs = registry.logs.slice(from).filter((entry) => entry.path.includes(`/broken/fault/${row.rules}/`));
    return { result, landed: await landed(), logs };
  }

  function describeClient(client: Client, tools: string[], setup: () => Promise<Runner>): void {
    describe(client, () => {
      let runner: Runner | undefined;
      before(async () => {
        if (missingTools(...tools).length === 0) runner = await setup();
      });
      for (const [index, row] of rows.entries()) {
        test(`${row.rules} (${row.request})`, async (t) => {
          if (!requireTools(t, ...tools) || !runner) return;
          const outcome = await runner(row, index);
          t.diagnostic(observed(outcome));
          check(client, row, outcome);
        });
      }
    });
  }

  describeClient('docker', ['docker', 'dockerd'], async () => {
    const docker = await startDockerd(scope, { insecureRegistries: [registry.host] });
    return async (row, index) => {
      const source = image(index, 0);
      if (row.request === 'push') {
        const pushed = `broken/prepared/faults/docker-${index}`;
        const target = `${registry.host}/broken/fault/${row.rules}/${pushed}:v1`;
        ok(await docker.run(['pull', `${registry.host}/${source}`], { timeoutMs: CALL_TIMEOUT_MS }));
        ok(await docker.run(['tag', `${registry.host}/${source}`, target]));
        return observe(row, async () => ({ result: await docker.run(['push', target], { timeoutMs: CALL_TIMEOUT_MS }), landed: () => manifestExists(pushed, 'v1') }));
      }
      const [name, tag] = source.split(':');
      const ref = row.request === 'pull by digest' ? `${registry.host}/broken/fault/${row.rules}/${name}@${await digestOf(source)}` : `${registry.host}/broken/fault/${row.rules}/${name}:${tag}`;
      return observe(row, async () => ({
        result: await docker.run(['pull', ref], { timeoutMs: CALL_TIMEOUT_MS }),
        landed: async () => (await docker.run(['image', 'inspect', ref])).code === 0,
      }));
    };
  });

  describeClient('podman', ['podman'], async () => {
    const podman = await createPodman(scope, [registry.host]);
    return async (row, index) => {
      const source = image(index, 1);
      if (row.request === 'push') {
        const pushed = `broken/prepared/faults/podman-${index}`;
        const target = `${registry.host}/broken/fault/${row.rules}/${pushed}:v1`;
        ok(await podman.pull(`${registry.host}/${source}`, { timeoutMs: CALL_TIMEOUT_MS }));
        ok(await podman.run(['tag', `${registry.host}/${source}`, target]));
        return observe(row, async () => ({ result: await podman.push(target, [], { timeoutMs: CALL_TIMEOUT_MS }), landed: () => manifestExists(pushed, 'v1') }));
      }
      const [name, tag] = source.split(':');
      const ref = row.request === 'pull by digest' ? `${registry.host}/broken/fault/${row.rules}/${name}@${await digestOf(source)}` : `${registry.host}/broken/fault/${row.rules}/${name}:${tag}`;
      return observe(row, async () => ({
        result: await podman.pull(ref, { timeoutMs: CALL_TIMEOUT_MS }),
        landed: async () => (await podman.run(['image', 'exists', ref])).code === 0,
      }));
    };
  });

  describeClient('skopeo', ['skopeo'], async () => {
    const skopeo = await createSkopeo(scope, [registry.host]);
    return async (row, index) => {
      const source = image(index, 2);
      if (row.request === 'push') {
        const pushed = `broken/prepared/faults/skopeo-${index}`;
        const target = `docker://${registry.host}/broken/fault/${row.rules}/${pushed}:v1`;
        return observe(row, async () => ({ result: await skopeo.copy(`docker://${registry.host}/${source}`, target, [], { timeoutMs: CALL_TIMEOUT_MS }), landed: () => manifestExists(pushed, 'v1') }));
      }
      const [name, tag] = source.split(':');
      const ref = row.request === 'pull by digest' ? `docker://${registry.host}/broken/fault/${row.rules}/${name}@${await digestOf(source)}` : `docker://${registry.host}/broken/fault/${row.rules}/${name}:${tag}`;
      const out = path.join(work, `skopeo-${index}`);
      return observe(row, async () => ({
        result: await skopeo.copy(ref, `oci:${out}:copy`, [], { timeoutMs: CALL_TIMEOUT_MS }),
        // skopeo writes the index last: an image is in the layout only when its copy completed.
        landed: async () => (await fs.readFile(path.join(out, 'index.json'), 'utf8').catch(() => '')).includes('"copy"'),
      }));
    };
  });
});
