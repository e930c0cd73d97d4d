#!/usr/bin/env -S node --initial-old-space-size=64
// The installed entry point: hands argv to the CLI and sets the exit code it returns.
//
// The V8 flag above (also in package.json's start script and the Dockerfile's ENTRYPOINT, which run
// this file with node; test/entry-points.test.ts keeps the three the same) puts a floor of 64 MB
// under the old generation's size limit. Each socket read of a request body reaches JavaScript as a
// new 64 KiB buffer, and V8 counts the bytes of those not yet collected against the old generation's
// room; with the limit V8 sets for a server's 14 MB heap (about 24 MB), a 1 GiB push started marking
// as soon as the last full collection ended: 39-80 full collections per GiB that freed nothing, and
// about a CPU-second of marking threads. With the floor: at most one, and in five of six pairs of
// servers side by side the pushes ran faster (bench/README.md, bench:registry). It is a limit, not
// memory taken: an idle server's RSS is 83 MB with it, 81 MB without. It can only be given at start
// (node refuses it in NODE_OPTIONS, and V8 reads it once).
import { main } from '../dist/src/cli.js';

// A reader that went away (`broken-reg serve --help | head`) ends the output, not the program.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

process.exitCode = await main(process.argv);
