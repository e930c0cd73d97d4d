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

const ROOT = path.dirname(README);

async function packageJson(): Promise<{ license: string; engines: { node: string } }> {
  return JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8'));
}

test('README states the Node version package.json engines asks for', async () => {
  const readme = await fs.readFile(README, 'utf8');
  const { engines } = await packageJson();
  const minimum = /^>=(\d+\.\d+\.\d+)$/.exec(engines.node)?.[1];
  assert.ok(minimum, `engines.node is "${engines.node}", expected >=X.Y.Z`);
  assert.ok(readme.includes(`Node.js ${minimum} or newer`), `README does not say "Node.js ${minimum} or newer"`);
  const stated = [...readme.matchAll(/Node(?:\.js)? (\d+(?:\.\d+)*) or newer/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(stated)], [minimum], 'every stated Node version is the engines one');
});

test('LICENSE is the license package.json names', async () => {
  const { license } = await packageJson();
  const first = { MIT: 'MIT License' }[license];
  assert.ok(first, `no LICENSE text known for "${license}"`);
  const text = await fs.readFile(path.join(ROOT, 'LICENSE'), 'utf8');
  assert.equal(text.split('\n')[0], first);
  assert.match(text, /Permission is hereby granted, free of charge/);
});

test('README says how to run broken-reg by name and how to pass flags through npm start', async () => {
  const readme = await fs.readFile(README, 'utf8');
  assert.match(readme, /^npx broken-reg serve/m);
  assert.match(readme, /^npm link\b/m);
  assert.match(readme, /^npm install -g \./m);
  assert.match(readme, /`npm start -- --port \d+/);
});

test('README\'s broken/auth rule table is the rule table, and names every rule', async () => {
  const { AUTH_RULES } = await import('../src/scenarios/auth-rules.js');
  const readme = await fs.readFile(README, 'utf8');
  const block = /<!-- auth-rules:start -->\n([\s\S]*?)\n<!-- auth-rules:end -->/.exec(readme)?.[1] ?? '';
  const code = (text: string) => `\`${text.replaceAll('|', '\\|')}\``;
  const rows = AUTH_RULES.map((rule) => `| ${code(rule.grammar)} | ${rule.summary} | ${code(rule.example)} |`);
  assert.deepEqual(block.split('\n').slice(2), rows);
});

test('README\'s broken/redirect rule table is the rule table', async () => {
  const { REDIRECT_RULES } = await import('../src/scenarios/redirect-rules.js');
  const readme = await fs.readFile(README, 'utf8');
  const block = /<!-- redirect-rules:start -->\n([\s\S]*?)\n<!-- redirect-rules:end -->/.exec(readme)?.[1] ?? '';
  const code = (text: string) => `\`${text.replaceAll('|', '\\|')}\``;
  assert.deepEqual(block.split('\n').slice(2), REDIRECT_RULES.map((rule) => `| ${code(rule.grammar)} | ${rule.summary} | ${code(rule.example)} |`));
});

test('README tables every broken/random key with its example, from the scenario metadata', async () => {
  const readme = await fs.readFile(README, 'utf8');
  const start = readme.indexOf('### broken/random\n');
  const section = readme.slice(start, readme.indexOf('\n### ', start + 1));
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
