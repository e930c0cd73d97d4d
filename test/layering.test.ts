// The layers of src/ and the directions their run-time imports may take, checked on every source
// file (as go-containerregistry's depcheck_test does). docs/architecture.md draws the same picture.
// `import type` is not a dependency at run time and is not checked.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Each layer (a folder or a file directly under src/) and the layers it may import at run time. */
const ALLOWED: Record<string, readonly string[]> = {
  oci: [],
  clock: [],
  'cli-error': [],
  ui: [],
  params: ['oci'],
  store: ['oci'],
  inspect: ['oci', 'store'],
  images: ['oci', 'params', 'store', 'cli-error'],
  http: ['oci', 'store'],
  registry: ['oci', 'http', 'store', 'auth'],
  faults: ['oci', 'params', 'http', 'registry'],
  auth: ['oci', 'params', 'http', 'cli-error'],
  scenarios: ['oci', 'params', 'http', 'registry', 'store', 'images', 'auth', 'faults'],
  proxy: ['oci', 'params', 'http', 'registry', 'store', 'cli-error'],
  journal: [],
  control: ['oci', 'cli-error', 'http', 'journal'],
  server: ['oci', 'clock', 'cli-error', 'params', 'store', 'http', 'registry', 'auth', 'faults', 'scenarios', 'proxy', 'images', 'journal', 'control'],
  config: ['oci', 'cli-error', 'params', 'store', 'registry', 'auth', 'proxy', 'server', 'journal', 'control'],
  commands: ['oci', 'clock', 'cli-error', 'config', 'params', 'store', 'images', 'inspect', 'auth', 'faults', 'scenarios', 'proxy', 'server', 'ui'],
  cli: ['cli-error', 'config', 'commands', 'ui'],
  index: ['config', 'server'],
};

const SRC = path.resolve(import.meta.dirname, '../../src');

/** The run-time relative imports of a TypeScript source: `import ... from`, `export ... from`, `import '...'`. */
export function runtimeImports(source: string): string[] {
  const found: string[] = [];
  const pattern = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.[^'"]+)['"]/gm;
  for (const match of source.matchAll(pattern)) {
    if (match[2]) continue; // import type / export type
    found.push(match[3] as string);
  }
  return found;
}

function layerOf(file: string): string {
  const [first] = path.relative(SRC, file).split(path.sep);
  return (first ?? '').replace(/\.ts$/, '');
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

test('the import scanner sees run-time imports and skips type-only ones', () => {
  const source = [
    "import fs from 'node:fs';",
    "import { a } from '../store/store.js';",
    "import type { B } from '../server/app.js';",
    "export { c } from './c.js';",
    "export type { D } from '../proxy/d.js';",
    "import {\n  e,\n  f,\n} from '../http/e.js';",
    "import './side-effect.js';",
  ].join('\n');
  assert.deepEqual(runtimeImports(source), ['../store/store.js', './c.js', '../http/e.js', './side-effect.js']);
});

test('every source file imports only from the layers its layer may use', async () => {
  const problems: string[] = [];
  const files = await sourceFiles(SRC);
  assert.ok(files.length > 50, `found the sources (${files.length} files)`);
  for (const file of files) {
    const layer = layerOf(file);
    const allowed = ALLOWED[layer];
    if (!allowed) {
      problems.push(`${path.relative(SRC, file)}: layer "${layer}" is not in the table; add it to ALLOWED and docs/architecture.md`);
      continue;
    }
    for (const specifier of runtimeImports(await fs.readFile(file, 'utf8'))) {
      const target = layerOf(path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')));
      if (target !== layer && !allowed.includes(target)) problems.push(`${path.relative(SRC, file)} (${layer}) imports ${specifier} (${target})`);
    }
  }
  assert.deepEqual(problems, []);
});

test('the store knows no HTTP: it never imports the wire error type, even through another module', async () => {
  const files = (await sourceFiles(SRC)).filter((file) => layerOf(file) === 'store');
  const reach = new Set<string>();
  const visit = async (file: string): Promise<void> => {
    if (reach.has(file)) return;
    reach.add(file);
    for (const specifier of runtimeImports(await fs.readFile(file, 'utf8'))) {
      await visit(path.resolve(path.dirname(file), specifier.replace(/\.js$/, '.ts')));
    }
  };
  for (const file of files) await visit(file);
  const outside = [...reach].map((file) => path.relative(SRC, file)).filter((file) => !file.startsWith(`store${path.sep}`));
  assert.deepEqual(outside.sort(), ['oci/digest.ts'], 'the store reaches only the digest grammar outside itself');
});
