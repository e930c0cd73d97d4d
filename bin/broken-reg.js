#!/usr/bin/env node
// The installed entry point: hands argv to the CLI and sets the exit code it returns.
import { main } from '../dist/src/cli.js';

// A reader that went away (`broken-reg serve --help | head`) ends the output, not the program.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

process.exitCode = await main(process.argv);
