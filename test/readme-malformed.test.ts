// The README's broken/malformed table and serve --help come from the kinds table: same kinds, same
// order, same defect and where. (What the clients do is checked by test/e2e/malformed.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MALFORMED_KINDS } from '../src/images/malformed/index.js';
import { readMalformedTable } from './helpers/malformed-readme.js';
import { runCli } from './helpers/cli.js';

test('README lists every malformed kind with its defect and where, in table order', async () => {
  const rows = await readMalformedTable();
  assert.deepEqual(
    rows.map(({ kind, defect, where }) => ({ kind, defect, where })),
    MALFORMED_KINDS.map(({ kind, defect, where }) => ({ kind, defect, where })),
  );
});

test('serve --help lists every malformed kind with its defect', async () => {
  const result = await runCli(['serve', '--help']);
  assert.equal(result.code, 0, result.stderr);
  for (const { kind, defect, where } of MALFORMED_KINDS) {
    assert.ok(result.stdout.includes(`${kind} `), `${kind} is not in serve --help`);
    assert.ok(result.stdout.includes(`${defect} (${where})`), `${kind}'s defect is not in serve --help`);
  }
});
