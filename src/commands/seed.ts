// broken-reg seed: pre-generates broken/random images into the store, exactly as serve would, so
// the first pull is instant.
import path from 'node:path';
import { Command } from 'commander';
import { defaultStore, DEFAULT_LIMITS } from '../config.js';
import { FsStore, type Store } from '../store/store.js';
import { materializeRandomImage, RANDOM_REPOSITORY } from '../images/random-store.js';
import { layerBlobSize, parseRandomTag, type RandomImageParams } from '../images/random/index.js';
import { ParamError } from '../params/tag-params.js';
import { formatSize } from '../inspect/table.js';
import { createUi, type Ui } from '../ui.js';
import { CliError } from '../cli-error.js';
import { checkStoreDir } from './store-dir.js';
import type { Io } from './io.js';

interface SeedFlags {
  store?: string;
  json?: boolean;
}

export interface SeedResult {
  reference: string;
  digest: string;
  generated: boolean;
}

export function seedCommand(io: Io): Command {
  return new Command('seed')
    .description('Pre-generate broken/random images into the store, so the first pull is instant.')
    .argument('<spec...>', 'random image specs in the tag grammar: layers-X_size-Y[_seed-Z]')
    .option('--store <dir>', 'store directory (env BLOB_DIR, default ~/broken-reg)')
    .option('--json', 'print the results as a JSON array')
    .addHelpText(
      'after',
      `
Prints one line per image: the reference and its manifest digest, the same digest serve answers
for that tag. An image already in the store is reported and not generated again. SIGINT or SIGTERM
stops at once (exit 1): the images finished before are kept, the one in progress is not tagged.
Examples:
  broken-reg seed layers-3_size-1024
  broken-reg seed layers-1_size-100m layers-5_size-1m_seed-42 --store /tmp/reg`,
    )
    .action(async (specs: string[], flags: SeedFlags) => {
      await seed(specs.map(parseSpec), flags, io);
    });
}

async function seed(images: { spec: string; params: RandomImageParams }[], flags: SeedFlags, io: Io): Promise<void> {
  const ui = createUi(io);
  const dir = path.resolve(flags.store ?? defaultStore(io.env));
  await checkStoreDir(dir);
  const stopped = new AbortController();
  const stopListening = io.signals.onStop((signal) => stopped.abort(signal));
  const store = await FsStore.open(dir);
  try {
    const results: SeedResult[] = [];
    for (const { spec, params } of images) results.push(await seedOne(store, spec, params, ui, stopped.signal));
    if (flags.json) ui.print(JSON.stringify(results, null, 2));
    else for (const result of results) ui.print(`${result.reference} ${result.digest}${result.generated ? '' : ' (already present)'}`);
  } finally {
    stopListening();
    await store.close();
  }
}

function parseSpec(spec: string): { spec: string; params: RandomImageParams } {
  try {
    return { spec, params: parseRandomTag(spec, DEFAULT_LIMITS) };
  } catch (error) {
    if (error instanceof ParamError) throw new CliError(`${spec}: ${error.message}`, 2);
    throw error;
  }
}

async function seedOne(store: Store, spec: string, params: RandomImageParams, ui: Ui, stopped: AbortSignal): Promise<SeedResult> {
  const reference = `${RANDOM_REPOSITORY}:${spec}`;
  const interrupted = () => new CliError(`${stopped.reason as string}: stopped while seeding ${reference}, which was not stored`);
  if (stopped.aborted) throw interrupted();
  const total = params.layers * layerBlobSize(params.size);
  const progress = ui.progress(`${reference}: generating`);
  let done = 0;
  // Called for every chunk on its way into the store: throwing here stops the generation and the
  // store drops the blob it was writing.
  const onBytes = (bytes: number) => {
    if (stopped.aborted) throw interrupted();
    done += bytes;
    const layer = Math.min(params.layers, Math.floor(done / layerBlobSize(params.size)) + 1);
    progress.update(`${reference}: layer ${layer} of ${params.layers}, ${formatSize(done)} of ${formatSize(total)}`);
  };
  try {
    const image = await materializeRandomImage(store, params, spec, onBytes);
    progress.succeed(`${reference} ${image.generated ? 'generated' : 'already present'}`);
    return { reference, digest: image.digest, generated: image.generated };
  } catch (error) {
    progress.fail(`${reference} failed`);
    throw stopped.aborted ? interrupted() : error;
  }
}
