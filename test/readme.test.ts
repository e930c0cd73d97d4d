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
