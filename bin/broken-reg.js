#!/usr/bin/env node
// The installed entry point: hands argv to the CLI and sets the exit code it returns.
import { main } from '../dist/src/cli.js';

process.exitCode = await main(process.argv);
