// broken-reg inspect: what the store holds (repositories, tags, sizes, orphan and missing blobs), or
// one image's tree. Reads only; safe while `serve` writes to the same store.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import { defaultStore } from '../config.js';
import { FsStore, type Store } from '../store/store.js';
import { createUi, type Ui } from '../ui.js';
import { collectStore } from '../inspect/collect.js';
import { collectTree } from '../inspect/tree.js';
import { parseImageRef } from '../inspect/ref.js';
import { renderStore } from '../inspect/render.js';
import { renderTree } from '../inspect/render-tree.js';
import { CliError } from '../cli-error.js';
import type { Io } from './io.js';

export interface InspectFlags {
  json?: boolean;
  store?: string;
}

export function inspectCommand(io: Io): Command {
  return new Command('inspect')
    .description('List what the store holds, or show one image tree: index, platform manifests, config and layers.')
    .argument('[ref]', 'repo:tag, repo@sha256:<hex>, or repo (meaning repo:latest)')
    .option('--json', 'print JSON for scripts (fields: docs/inspect-json.md)')
    .option('--store <dir>', 'store directory (env BLOB_DIR, default ~/broken-reg)')
    .addHelpText(
      'after',
      `
Without REF: every repository and tag with digest, media type and size, the manifests no tag reaches,
the blobs no manifest references, and the total size of blobs/. With REF: the image's tree, blobs
missing from the store marked MISSING. Exit 1 when the store, repository or reference is unknown,
2 when REF is malformed.
Examples:
  broken-reg inspect
  broken-reg inspect broken/prepared:mine
  broken-reg inspect broken/prepared@sha256:<hex> --json
  BLOB_DIR=/tmp/reg broken-reg inspect --json | jq '.orphanBlobs'`,
    )
    .action(async (ref: string | undefined, flags: InspectFlags) => {
      await inspect(ref, flags, createUi(io), io.env);
    });
}

async function inspect(refText: string | undefined, flags: InspectFlags, ui: Ui, env: NodeJS.ProcessEnv): Promise<void> {
  const parsed = refText === undefined ? undefined : parseImageRef(refText);
  if (parsed && !parsed.ok) throw new CliError(parsed.reason, 2);
  const store = await openExisting(path.resolve(flags.store ?? defaultStore(env)));
  const render = { color: ui.color };
  if (!parsed) {
    const report = await collectStore(store);
    const lines = flags.json ? [JSON.stringify(report, null, 2)] : renderStore(report, render);
    lines.forEach((line) => ui.print(line));
    return;
  }
  const result = await collectTree(store, parsed.ref);
  if (!result.found) throw new CliError(result.message, 1);
  const lines = flags.json ? [JSON.stringify(result.tree, null, 2)] : renderTree(result.tree, render);
  lines.forEach((line) => ui.print(line));
}

/** Opens the store, refusing (rather than creating) a directory that does not exist. */
async function openExisting(dir: string): Promise<Store> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (!stat) throw new CliError(`store ${dir} does not exist (set --store or BLOB_DIR)`);
  if (!stat.isDirectory()) throw new CliError(`store ${dir} is not a directory`);
  return FsStore.open(dir);
}
