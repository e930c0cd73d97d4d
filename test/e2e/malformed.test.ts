// docker, podman, skopeo and containerd on every broken/malformed kind: each pulls it or refuses it
// exactly as the README table says (the table is the expectation, so it cannot drift from what the
// clients do). Kinds run in parallel within one dockerd, one podman storage, one skopeo config and
// one containerd.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startRegistry, makeTempDir, type TestRegistry } from '../helpers/registry.js';
import { createPodman, createSkopeo, requireTools, Scope, startContainerd, startDockerd, type RunResult } from '../helpers/clients.js';
import { CLIENTS, formatOutcome, readMalformedTable, type Client, type MalformedRow } from '../helpers/malformed-readme.js';
import { MALFORMED_KIND_NAMES } from '../../src/images/malformed/index.js';

/** Every client call is killed after this long; the slowest kind takes about a second. */
const CALL_TIMEOUT_MS = 60_000;
const PARALLEL = 4;

/** Runs fn over items, at most `limit` at once, keeping the order of items. */
async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

/** The mismatches between what the README says a client does and what it did, one line each. */
function mismatches(client: Client, rows: readonly MalformedRow[], results: readonly RunResult[]): string[] {
  const lines: string[] = [];
  rows.forEach((row, i) => {
    const result = results[i]!;
    const expected = row.outcomes[client];
    const output = `${result.stdout}\n${result.stderr}`;
    const matches = expected.ok ? result.code === 0 : result.code !== 0 && !result.timedOut && output.includes(expected.fragment);
    if (matches) return;
    const did = result.timedOut ? `timed out after ${Math.round(result.ms)} ms` : result.code === 0 ? 'pulled' : `refused: ${result.stderr.trim().split('\n').slice(-2).join(' / ')}`;
    lines.push(`${row.kind}: README says "${formatOutcome(expected)}", ${client} ${did}`);
  });
  return lines;
}

describe('real clients on every broken/malformed kind', { timeout: 600_000 }, () => {
  const scope = new Scope();
  let registry: TestRegistry;
  let rows: MalformedRow[];

  before(async () => {
    registry = await startRegistry(scope.context);
    rows = await readMalformedTable();
  });
  after(() => scope.close());

  const ref = (kind: string) => `${registry.host}/broken/malformed:${kind}`;

  test('the README table has a row for every kind and a column for each client', () => {
    assert.deepEqual(
      rows.map((row) => row.kind),
      MALFORMED_KIND_NAMES,
    );
    for (const row of rows) assert.deepEqual(Object.keys(row.outcomes), [...CLIENTS]);
  });

  test('docker pull does what the README says for every kind', async (t) => {
    if (!requireTools(t, 'docker', 'dockerd')) return;
    const docker = await startDockerd(t, { insecureRegistries: [registry.host] });
    const results = await inParallel(rows, PARALLEL, (row) => docker.run(['pull', ref(row.kind)], { timeoutMs: CALL_TIMEOUT_MS }));
    assert.deepEqual(mismatches('docker', rows, results), []);
  });

  test('podman pull does what the README says for every kind', async (t) => {
    if (!requireTools(t, 'podman')) return;
    const podman = await createPodman(t, [registry.host]);
    const results = await inParallel(rows, PARALLEL, (row) => podman.pull(ref(row.kind), { timeoutMs: CALL_TIMEOUT_MS }));
    assert.deepEqual(mismatches('podman', rows, results), []);
  });

  test('skopeo copy --all to an OCI layout does what the README says for every kind', async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const skopeo = await createSkopeo(t, [registry.host]);
    const out = await makeTempDir(t);
    const results = await inParallel(rows, PARALLEL, (row) =>
      skopeo.copy(`docker://${ref(row.kind)}`, `oci:${path.join(out, row.kind)}:${row.kind}`, ['--all'], { timeoutMs: CALL_TIMEOUT_MS }),
    );
    assert.deepEqual(mismatches('skopeo', rows, results), []);
  });

  test('ctr images pull (native snapshotter) does what the README says for every kind', async (t) => {
    if (!requireTools(t, 'ctr', 'containerd')) return;
    const containerd = await startContainerd(t);
    const results = await inParallel(rows, PARALLEL, (row) =>
      containerd.ctr(['images', 'pull', '--plain-http', '--snapshotter', 'native', ref(row.kind)], { timeoutMs: CALL_TIMEOUT_MS }),
    );
    assert.deepEqual(mismatches('containerd', rows, results), []);
  });

  test('no client wrote tar-traversal files outside its root', () => {
    for (const file of ['/broken-reg-traversal-absolute', '/tmp/broken-reg-traversal-symlink', '/broken-reg-traversal-dotdot', '/tmp/broken-reg-traversal-dotdot']) {
      assert.equal(existsSync(file), false, `${file} exists`);
    }
  });
});
