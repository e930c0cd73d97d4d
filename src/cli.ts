// The commander program: the only place that touches process.argv and turns errors into exit codes.
import { Command, CommanderError } from 'commander';
import { serveCommand } from './commands/serve.js';
import { seedCommand } from './commands/seed.js';
import { prepareCommand } from './commands/prepare.js';
import { inspectCommand } from './commands/inspect.js';
import { journalCommand } from './commands/journal.js';
import { CliError } from './commands/errors.js';
import { UsageError } from './config.js';

export function program(): Command {
  const root = new Command('broken-reg')
    .description('A container image registry for testing: real clients pull and push, and it misbehaves on demand.')
    .version('0.1.0')
    .addCommand(serveCommand())
    .addCommand(seedCommand())
    .addCommand(prepareCommand())
    .addCommand(inspectCommand())
    .addCommand(journalCommand());
  // Added commands do not inherit these settings: every command throws instead of exiting.
  for (const command of [root, ...root.commands]) command.exitOverride().showHelpAfterError('(run with --help for usage)');
  return root;
}

/** Runs the CLI and returns the exit code: 0 success, 1 failure, 2 bad usage. */
export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError || error instanceof CliError) {
      process.stderr.write(`broken-reg: ${error.message}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`broken-reg: ${message}\n`);
    return 1;
  }
}
