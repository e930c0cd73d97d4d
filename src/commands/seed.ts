// broken-reg seed: pre-generates broken/random images into the store, exactly as serve would, so
// the first pull is instant.
import path from 'node:path';
import { Command } from 'commander';
import { defaultStore, resolveLimits, type Limits } from '../config.js';
import { FsStore, type Store } from '../store/store.js';
import { materializeRandomImage, RANDOM_REPOSITORY } from '../images/random-store.js';
import { layerBlobSize, parseRandomTag, randomTagSpec, resolveParams, type RandomImageParams } from '../images/random/index.js';
import { describeTagSpec, ParamError } from '../params/tag-params.js';
import { humanSize } from '../inspect/table.js';
import { createUi, type Ui } from '../ui.js';
import { CliError } from '../cli-error.js';
import { checkStoreDir } from './store-dir.js';
import type { Io } from './io.js';

interface SeedFlags {
  store?: string;
  maxLayers?: string;
  maxRandomSize?: string;
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
    .argument('<spec...>', `random image specs in the tag grammar: ${describeTagSpec(randomTagSpec())}`)
    .option('--store <dir>', 'store directory (env BLOB_DIR, default ~/broken-reg)')
    .option('--json', 'print the results as a JSON array')
    .option('--max-layers <n>', 'most layers an image may have, as serve --max-layers (default 100)')
    .option('--max-random-size <size>', 'largest layer, as serve --max-random-size (default 1g)')
    .addHelpText(
      'after',
      `
Prints one line per image: the reference and its manifest digest, the same digest serve answers
for that tag. An image already in the store is reported and not generated again. SIGINT or SIGTERM
stops at once (exit 1): the images finished before are kept, the one in progress is not tagged.
Examples:
  broken-reg seed layers-3_size-1024
  broken-reg seed layers-1_size-100m layers-5_size-1m_seed-42 --store /tmp/reg
  broken-reg seed layers-2_size-1m_format-oci_platforms-4_comp-zstd_attest-1
  broken-reg seed layers-1000_size-1k --max-layers 1000`,
    )
    .action(async (specs: string[], flags: SeedFlags) => {
      // The limits serve would apply with the same flags, so seed makes what that serve would.
      const limits = resolveLimits(flags);
      await seed(specs.map((spec) => parseSpec(spec, limits)), flags, io);
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

function parseSpec(spec: string, limits: Limits): { spec: string; params: RandomImageParams } {
  try {
    return { spec, params: parseRandomTag(spec, limits) };
  } catch (error) {
    if (error instanceof ParamError) throw new CliError(`${spec}: ${error.message}`, 2);
    throw error;
  }
}

async function seedOne(store: Store, spec: string, params: RandomImageParams, ui: Ui, stopped: AbortSignal): Promise<SeedResult> {
  const reference = `${RANDOM_REPOSITORY}:${spec}`;
  const interrupted = () => new CliError(`${stopped.reason as string}: stopped while seeding ${reference}, which was not stored`);
  if (stopped.aborted) throw interrupted();
  const { layers, size, files, comp, platforms } = resolveParams(params);
  // Every image has the same layer sizes; configs and attestations are a rounding error.
  const layerBytes = layerBlobSize(size, files, comp);
  const allLayers = Math.max(1, platforms) * layers;
  const total = allLayers * layerBytes;
  const progress = ui.progress(`${reference}: generating`);
  let done = 0;
  // Called for every chunk on its way into the store: throwing here stops the generation and the
  // store drops the blob it was writing.
  const onBytes = (bytes: number) => {
    if (stopped.aborted) throw interrupted();
    done += bytes;
    const layer = Math.min(allLayers, Math.floor(done / layerBytes) + 1);
    progress.update(`${reference}: layer ${layer} of ${allLayers}, ${humanSize(Math.min(done, total))} of ${humanSize(total)}`);
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
