// broken-reg inspect: lists what the store holds (not built yet).
import { Command } from 'commander';
import { CliError } from './errors.js';

export function inspectCommand(): Command {
  return new Command('inspect')
    .description('List what the store holds, or one image tree (not built yet).')
    .argument('[ref]', 'repo:tag or repo@digest')
    .option('--json', 'machine-readable output')
    .option('--store <dir>', 'store directory (env BLOB_DIR, default ~/broken-reg)')
    .action(() => {
      throw new CliError('inspect is not built yet');
    });
}
