// broken-reg prepare: imports a docker save or OCI image-layout tarball (file or stdin) into
// broken/prepared, then prints one line per tag: "<repo>:<tag> <digest>" (or JSON with --json).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Command } from 'commander';
import { defaultStore } from '../config.js';
import { FsStore, type Store } from '../store/store.js';
import { createUi, type Ui } from '../ui.js';
import { PREPARED_ROOT, checkTarget, importTarball, type ImportResult } from '../images/import/index.js';
import { humanSize } from '../inspect/table.js';
import { CliError } from '../cli-error.js';
import { checkStoreDir } from './store-dir.js';
import type { Io } from './io.js';

interface PrepareFlags {
  tag?: string;
  image?: string;
  repo: string;
  store?: string;
  verify: boolean;
  json?: boolean;
}

export function prepareCommand(io: Io): Command {
  return new Command('prepare')
    .description('Import a docker save or OCI image-layout tarball into broken/prepared.')
    .argument('<tarball>', 'tarball path (may be gzipped), or - for stdin')
    .option('--tag <name>', 'tag to import as (default: the tags the tarball names)')
    .option('--image <ref>', 'choose one image of a tarball holding several (a RepoTag, ref.name or digest)')
    .option('--repo <name>', `repository: ${PREPARED_ROOT} or ${PREPARED_ROOT}/<path>`, PREPARED_ROOT)
    .option('--store <dir>', 'store directory (env BLOB_DIR, default ~/broken-reg)')
    .option('--no-verify', 'import as-is: no digest verification or completeness checks (to serve deliberately broken content)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Formats:
  OCI image layout (oci-layout, index.json, blobs/): every manifest, index and blob is kept
    byte-identical. One manifest in index.json gets the tag; several get --tag as one image index
    (index.json itself), or their org.opencontainers.image.ref.name tags when --tag is not given;
    --image picks one of them. Docker 25+ saves (index.json and manifest.json) are read this way.
  docker save (manifest.json): each image becomes a Docker v2 schema 2 manifest with its config and
    its uncompressed layers (application/vnd.docker.image.rootfs.diff.tar), checked against the
    config's diff_ids. Tags are the tag part of each RepoTag (busybox:1.36 -> 1.36); with several
    images, --tag needs --image to say which one it names.
Nothing is written unless the whole import succeeds; a failed import leaves the store as it was.
--no-verify skips digest and completeness checks, so broken content can be served on purpose.

SIGINT or SIGTERM stops the import at once, and nothing is imported.

Exit codes: 0 imported, 1 bad or unreadable tarball, unusable store or interrupted, 2 bad usage.
Examples:
  docker save busybox:1.36 | broken-reg prepare -
  skopeo copy docker://quay.io/libpod/alpine oci-archive:alpine.tar && broken-reg prepare alpine.tar --tag alpine
  broken-reg prepare image.tar --tag broken --repo broken/prepared/team/app --no-verify`,
    )
    .action(async (tarball: string, flags: PrepareFlags) => {
      await prepare(tarball, flags, io);
    });
}

async function prepare(tarball: string, flags: PrepareFlags, io: Io): Promise<void> {
  checkTarget(flags.repo, flags.tag);
  const dir = path.resolve(flags.store ?? defaultStore(io.env));
  const input = tarball === '-' ? io.stdin : await openFile(tarball);
  try {
    await checkStoreDir(dir);
    await importInto(await FsStore.open(dir), input, tarball === '-' ? 'stdin' : path.basename(tarball), flags, io);
  } finally {
    input.destroy();
  }
}

async function importInto(store: Store, input: Readable, label: string, flags: PrepareFlags, io: Io): Promise<void> {
  const ui = createUi(io);
  const controller = new AbortController();
  const stopListening = io.signals.onStop(() => controller.abort());
  const progress = ui.progress(`Importing ${label}`);
  let shown = 0;
  try {
    const result = await importTarball(store, input, {
      repository: flags.repo,
      verify: flags.verify,
      signal: controller.signal,
      ...(flags.tag !== undefined ? { tag: flags.tag } : {}),
      ...(flags.image !== undefined ? { image: flags.image } : {}),
      onProgress: (bytes) => {
        if (bytes - shown < 8 << 20) return;
        shown = bytes;
        progress.update(`Importing ${label}: ${humanSize(bytes)} read`);
      },
    });
    progress.succeed(`Imported ${label}: ${humanSize(result.bytesRead)}, ${result.images.length} tag(s), ${result.blobsAdded} new blob(s)`);
    render(ui, result, Boolean(flags.json));
  } catch (error) {
    progress.fail(`Import of ${label} failed`);
    throw error;
  } finally {
    stopListening();
    await store.close();
  }
}

function render(ui: Ui, result: ImportResult, json: boolean): void {
  if (json) {
    ui.print(JSON.stringify(result, null, 2));
    return;
  }
  for (const image of result.images) ui.print(`${image.reference} ${image.digest}`);
  if (!result.verified) ui.note('broken-reg: imported without verification (--no-verify)');
}

async function openFile(file: string): Promise<Readable> {
  try {
    const handle = await fs.open(file, 'r');
    if ((await handle.stat()).isDirectory()) {
      await handle.close();
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    return handle.createReadStream({ highWaterMark: 1 << 20 });
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
