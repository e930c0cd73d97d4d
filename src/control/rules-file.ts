// serve --rules FILE: run-time rules loaded at start, from JSON or YAML (YAML 1.2 reads JSON too, so
// one parser serves both): a list of rules, or {"rules": [...]} as GET /_broken/rules answers.
import fs from 'node:fs/promises';
import { parse } from 'yaml';
import { UsageError } from '../cli-error.js';
import { RuleError, type RuleSet } from './rules.js';

export async function loadRulesFile(file: string, rules: RuleSet): Promise<void> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--rules ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (error) {
    throw new UsageError(`--rules ${file}: not JSON or YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const list = Array.isArray(data) ? data : typeof data === 'object' && data !== null && Array.isArray((data as { rules?: unknown }).rules) ? (data as { rules: unknown[] }).rules : undefined;
  if (!list) throw new UsageError(`--rules ${file}: expected a list of rules, or {rules: [...]}`);
  list.forEach((input: unknown, index) => {
    try {
      // An id or count from a saved GET /_broken/rules is not part of the rule.
      const { id: _id, matched: _matched, ...rule } = typeof input === 'object' && input !== null ? (input as Record<string, unknown>) : { input };
      rules.add(typeof input === 'object' && input !== null ? rule : input);
    } catch (error) {
      if (error instanceof RuleError) throw new UsageError(`--rules ${file}: rule ${index + 1}: ${error.message}`);
      throw error;
    }
  });
}
