// README.md must keep telling the truth: every scenario, every flag of every command, the two commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { program } from '../src/cli.js';
import { defaultScenarios } from '../src/scenarios/index.js';

const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../README.md');

test('README names every scenario with its example', async () => {
  const readme = await fs.readFile(README, 'utf8');
  for (const scenario of defaultScenarios().scenarios) {
    assert.ok(readme.includes(`\`broken/${scenario.name}\``), `broken/${scenario.name} is not in README.md`);
    const [, tag] = scenario.example.split(':');
    assert.ok(tag && readme.includes(tag), `the example tag of broken/${scenario.name} (${tag}) is not in README.md`);
  }
});

test('README documents every flag of every command', async () => {
  const readme = await fs.readFile(README, 'utf8');
  for (const command of program().commands) {
    assert.ok(readme.includes(`broken-reg ${command.name()}`), `broken-reg ${command.name()} is not in README.md`);
    for (const option of command.options) {
      if (option.long === '--help') continue;
      assert.ok(readme.includes(option.long ?? ''), `${command.name()} ${option.long} is not in README.md`);
    }
  }
});

test('README gives the two commands', async () => {
  const readme = await fs.readFile(README, 'utf8');
  assert.match(readme, /npm ci && npm start/);
  assert.match(readme, /^npm test\b/m);
});

test('README tables every broken/random key with its example, from the scenario metadata', async () => {
  const readme = await fs.readFile(README, 'utf8');
  const section = readme.slice(readme.indexOf('### broken/random\n'), readme.indexOf('### broken/prepared\n'));
  const random = defaultScenarios().scenarios.find((scenario) => scenario.name === 'random');
  assert.ok(random);
  const rows = section.split('\n').filter((line) => line.startsWith('| `'));
  assert.deepEqual(
    rows.map((row) => /^\| `([a-z]+)`/.exec(row)?.[1]),
    random.parameters.map((parameter) => parameter.name),
    'one row per key, in the grammar order',
  );
  for (const parameter of random.parameters) {
    const row = rows.find((line) => line.startsWith(`| \`${parameter.name}\``)) ?? '';
    assert.ok(row.includes(`\`${parameter.example}\``), `the README row of ${parameter.name} shows its example ${parameter.example}`);
    assert.ok(parameter.example.startsWith(`${parameter.name}-`), parameter.example);
    assert.ok(parameter.description.length > 0, `${parameter.name} has a description`);
  }
});
