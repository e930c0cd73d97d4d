// The fault keys in README.md and in `serve --help` come from the key table in src/faults/rules.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAULT_KEYS } from '../src/faults/rules.js';
import { faultHelp } from '../src/commands/serve.js';

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../README.md');
const GROUPS = { which: 'which requests', when: 'when', what: 'what happens' } as const;
const escape = (text: string) => text.replaceAll('|', '\\|');

test('README lists every fault key with its grammar, group, summary and example, as the key table has them', async () => {
  const readme = await fs.readFile(README, 'utf8');
  const rows = readme.split('\n').filter((line) => /^\| `[a-z]+-<.*>` \| (which requests|when|what happens) \|/.test(line));
  const expected = FAULT_KEYS.map((k) => `| \`${k.key}-${escape(k.value)}\` | ${GROUPS[k.group]} | ${escape(k.summary)} | \`${k.example}\` |`);
  assert.deepEqual(rows, expected);
});

test('serve --help lists every fault key with its example', () => {
  const help = faultHelp();
  for (const k of FAULT_KEYS) assert.ok(help.includes(`${k.key}-${k.value}`) && help.includes(k.example), k.key);
  assert.match(help, /^Faults: broken\/fault\//);
});
