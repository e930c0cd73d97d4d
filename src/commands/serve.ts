// broken-reg serve: boots the registry on a store and serves until SIGINT or SIGTERM.
import fs from 'node:fs/promises';
import { Command, Option } from 'commander';
import { resolveServeConfig, type ServeFlags } from '../config.js';
import { buildRegistry } from '../server/registry.js';
import { listen } from '../server/listen.js';
import { formatJson, formatText } from '../server/log.js';
import { CliError } from './errors.js';

export function serveCommand(): Command {
  return new Command('serve')
    .description('Start the registry on a store directory.')
    .option('--host <host>', 'address to listen on (env BIND_HOST)', undefined)
    .option('--port <port>', 'port to listen on, 0 for any free port (env BIND_PORT)', undefined)
    .option('--store <dir>', 'store directory (env BLOB_DIR, default ~/broken-reg)')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (env CERT_FILE)')
    .option('--tls-key <file>', 'private key for --tls-cert (env KEY_FILE)')
    .addOption(new Option('--log-format <format>', 'request log format').choices(['text', 'json']).default('text'))
    .addHelpText(
      'after',
      `
Defaults: host 127.0.0.1, port 5000, store ~/broken-reg.
Examples:
  broken-reg serve --port 5000
  BLOB_DIR=/tmp/reg broken-reg serve --host 0.0.0.0
  skopeo copy --dest-tls-verify=false docker-archive:img.tar docker://localhost:5000/broken/prepared:img`,
    )
    .action(async (flags: ServeFlags) => {
      await serve(flags, process.env);
    });
}

async function serve(flags: ServeFlags, env: NodeJS.ProcessEnv): Promise<void> {
  const config = resolveServeConfig(flags, env);
  const format = config.logFormat === 'json' ? formatJson : formatText;
  const tls = config.tlsCert && config.tlsKey ? await readTls(config.tlsCert, config.tlsKey) : undefined;
  const { app } = await buildRegistry({ config, log: (entry) => process.stdout.write(`${format(entry)}\n`) });
  const running = await listen(app, { host: config.host, port: config.port, tls }).catch((error: NodeJS.ErrnoException) => {
    throw new CliError(`cannot listen on ${config.host}:${config.port}: ${error.code ?? error.message}`);
  });
  process.stdout.write(`broken-reg listening on ${running.url} (store ${config.store})\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`broken-reg: ${signal}, shutting down\n`);
      void running.close(5_000).then(resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}

async function readTls(certFile: string, keyFile: string) {
  try {
    return { cert: await fs.readFile(certFile), key: await fs.readFile(keyFile) };
  } catch (error) {
    throw new CliError(`cannot read TLS files: ${(error as Error).message}`);
  }
}
