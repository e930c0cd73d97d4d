// broken-reg serve: boots the registry on a store and serves until SIGINT or SIGTERM.
import fs from 'node:fs/promises';
import { Command, Option } from 'commander';
import { resolveServeConfig, type ServeFlags } from '../config.js';
import { buildRegistry } from '../server/build.js';
import { listen } from '../server/listen.js';
import { batchLines, formatJson, formatText } from '../server/log.js';
import { CliError } from './errors.js';
import { defaultScenarios } from '../scenarios/index.js';
import { MALFORMED_KINDS } from '../images/malformed/index.js';
import { addProxyOptions } from '../proxy/index.js';

export function serveCommand(): Command {
  const command = new Command('serve')
    .description('Start the registry on a store directory.')
    .option('--host <host>', 'address to listen on (env BIND_HOST)', undefined)
    .option('--port <port>', 'port to listen on, 0 for any free port (env BIND_PORT)', undefined)
    .option('--store <dir>', 'store directory (env BLOB_DIR, default ~/broken-reg)')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (env CERT_FILE)')
    .option('--tls-key <file>', 'private key for --tls-cert (env KEY_FILE)')
    .addOption(new Option('--log-format <format>', 'request log format').choices(['text', 'json']).default('text'))
    .option('--max-timeout <duration>', 'longest broken/timeout wait accepted (default 1h)')
    .option('--max-layers <n>', 'most layers a broken/random image may have (default 100)')
    .option('--max-random-size <size>', 'largest broken/random layer, bytes or k/m/g (default 1g)')
    .option('--catalog-delay <duration>', 'wait this long before answering /v2/_catalog (env V2_CATALOG_DELAY)')
    .option('--catalog-repos <n>', 'answer /v2/_catalog with n synthetic repositories (env V2_CATALOG_NUM_REPOS)')
    .option('--upload-timeout <duration>', 'remove upload sessions untouched this long (default 1h)')
    .option('--warning <probability:message>', 'add Warning: 299 - "message" to that share of responses (repeatable)', collect)
    // The request journal and the control plane (/_broken/...).
    .option('--journal-size <n>', 'requests the journal keeps, 0 turns it off (default 100000)')
    .option('--rules <file>', 'run-time rules to load at start, JSON or YAML (as POST /_broken/rules takes them)')
    .option('--admin-token <token>', 'open /_broken/ to clients beyond --admin-allow with Authorization: Bearer <token>')
    .option('--admin-allow <addresses>', 'client IPs /_broken/ answers without a token, or "loopback" (default; repeatable)', collect)
    .addHelpText('after', () => `\n${scenarioHelp()}\n${EXAMPLES}`);
  return addProxyOptions(command).action(async (flags: ServeFlags) => {
    await serve(flags, process.env);
  });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

const EXAMPLES = `Defaults: host 127.0.0.1, port 5000, store ~/broken-reg. Durations use Go syntax (300ms, 1.5s, 2m).
Examples:
  broken-reg serve --port 5000
  BLOB_DIR=/tmp/reg broken-reg serve --host 0.0.0.0 --warning 0.25:"registry is degraded"
  docker pull localhost:5000/broken/error:503
  skopeo copy --dest-tls-verify=false docker-archive:img.tar docker://localhost:5000/broken/prepared:img`;

/** The scenario table, from the scenarios' own metadata. */
export function scenarioHelp(): string {
  const rows = defaultScenarios().scenarios.map((s) => `  ${s.example.padEnd(40)} ${s.summary}`);
  const proxy = `  ${'<[host/]repository>:<tag>'.padEnd(40)} Anything else: pulled through from --upstream (or the named host) and cached.`;
  const kinds = MALFORMED_KINDS.map((k) => `  ${k.kind.padEnd(20)} ${k.defect} (${k.where})`);
  return ['Scenarios (pull <host:port>/<repository>:<tag>):', ...rows, proxy, '', 'broken/malformed:<kind>, one defect each:', ...kinds].join('\n');
}

async function serve(flags: ServeFlags, env: NodeJS.ProcessEnv): Promise<void> {
  const config = resolveServeConfig(flags, env);
  const format = config.logFormat === 'json' ? formatJson : formatText;
  const tls = config.tlsCert && config.tlsKey ? await readTls(config.tlsCert, config.tlsKey) : undefined;
  const output = batchLines((text) => process.stdout.write(text));
  const registry = await buildRegistry({
    config,
    env,
    log: (entry) => output.line(format(entry)),
    expireUploads: { onError: (error) => process.stderr.write(`broken-reg: upload expiry: ${(error as Error).message}\n`) },
  });
  const running = await listen(registry.app, { host: config.host, port: config.port, tls }).catch((error: NodeJS.ErrnoException) => {
    throw new CliError(`cannot listen on ${config.host}:${config.port}: ${error.code ?? error.message}`);
  });
  process.stdout.write(`broken-reg listening on ${running.url} (store ${config.store})\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`broken-reg: ${signal}, shutting down\n`);
      void running.close(5_000).then(() => registry.close()).then(() => {
        output.flush();
        resolve();
      });
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
