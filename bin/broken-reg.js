#!/usr/bin/env node
// The installed entry point: sets how V8 collects garbage in this process (below), then hands argv
// to the CLI and sets the exit code it returns.
import v8 from 'node:v8';

// How V8 collects garbage here, set once at start for the process the CLI owns (the library, in
// src/index.ts, leaves its host's settings alone). Every socket read of a request body reaches
// JavaScript as a new 64 KiB buffer, and V8 counts the bytes of those buffers against the old
// generation's room until they are swept. With V8's defaults a chunked 1 GiB push ran 30 to 41 full
// collections that freed nothing (a 14 MB heap stayed 14 MB), at 280-358 MB/s. With the buffers
// swept within the young collection, room of 1.5 times the live size after a full collection, and no
// memory reducer shrinking that room while the server idles: at most 9, most rounds one or none, at
// 289-484 MB/s. Monolithic pushes, which seldom fell into it, ran at 442-618 MB/s before and 447-552
// after (bench/README.md, bench:registry, "Where a 1 GiB push's time goes").
v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
v8.setFlagsFromString('--heap-growing-percent=150');
v8.setFlagsFromString('--no-memory-reducer');

const { main } = await import('../dist/src/cli.js');

// A reader that went away (`broken-reg serve --help | head`) ends the output, not the program.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

process.exitCode = await main(process.argv);
