// The commander program, and with bin/ the only place that touches `process`: it hands every command
// its I/O (an Io of stdout, stderr, stdin, env and signals) and turns errors into exit codes.
import { Command, CommanderError } from 'commander';
import { serveCommand } from './commands/serve.js';
import { seedCommand } from './commands/seed.js';
import { prepareCommand } from './commands/prepare.js';
import { inspectCommand } from './commands/inspect.js';
import type { Io, Signals } from './commands/io.js';
import { CliError } from './cli-error.js';
import { journalCommand } from './commands/journal.js';

export function program(io: Io = processIo()): Command {
  const root = new Command('broken-reg')
    .description('A container image registry for testing: real clients pull and push, and it misbehaves on demand.')
    .version('0.1.0')
    .configureOutput({ writeOut: (text) => void io.stdout.write(text), writeErr: (text) => void io.stderr.write(text) })
    .addCommand(serveCommand(io))
    .addCommand(seedCommand(io))
    .addCommand(prepareCommand(io))
    .addCommand(inspectCommand(io))
    .addCommand(journalCommand(io));
  // Added commands do not inherit these settings: every command throws instead of exiting.
  for (const command of [root, ...root.commands]) {
    command.exitOverride().showHelpAfterError('(run with --help for usage)');
    if (command !== root) command.configureOutput(root.configureOutput());
  }
  return root;
}

/**
 * Runs the CLI and returns the exit code: 0 success, 1 failure, 2 bad usage. A CliError is the one
 * error a command means to end with; anything else is a failure told in one line too.
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  try {
    await program(io).parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`broken-reg: ${message}\n`);
    return error instanceof CliError ? error.exitCode : 1;
  }
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signals: processSignals };
}

const processSignals: Signals = {
  onStop(stop) {
    let stopped = false;
    const off = () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    };
    const on = (signal: NodeJS.Signals) => {
      if (stopped) return;
      stopped = true;
      stop(signal);
      // Not at once: listeners that count who else listens (signal-exit, under ora) run after this one
      // for the same signal, and would end the process if they found themselves alone.
      setImmediate(off);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
    return off;
  },
};
