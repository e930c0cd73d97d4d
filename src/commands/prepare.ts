// broken-reg prepare: imports images from tarballs into the store (not built yet).
import { Command } from 'commander';
import { CliError } from './errors.js';

export function prepareCommand(): Command {
  return new Command('prepare')
    .description('Import a docker save or OCI layout tarball into broken/prepared (not built yet).')
    .argument('<tarball>', 'tarball path, or - for stdin')
    .option('--tag <name>', 'tag to import as')
    .option('--store <dir>', 'store directory (env BLOB_DIR, default ~/broken-reg)')
    .action(() => {
      throw new CliError('prepare is not built yet');
    });
}
