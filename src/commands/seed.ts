// broken-reg seed: pre-generates random images into the store (not built yet).
import { Command } from 'commander';
import { CliError } from './errors.js';

export function seedCommand(): Command {
  return new Command('seed')
    .description('Pre-generate broken/random images into the store (not built yet).')
    .argument('<spec...>', 'random image specs, e.g. layers-3_size-1024')
    .option('--store <dir>', 'store directory (env BLOB_DIR, default ~/broken-reg)')
    .action(() => {
      throw new CliError('seed is not built yet');
    });
}
