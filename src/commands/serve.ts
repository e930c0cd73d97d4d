// broken-reg serve: boots the registry on a store and serves until SIGINT or SIGTERM.
import fs from 'node:fs/promises';
import { Command, Option } from 'commander';
import { resolveServeConfig, type ServeConfig, type ServeFlags } from '../config.js';
import { buildRegistry } from '../server/build.js';
import { listen, type RunningServer } from '../server/listen.js';
import { batchLines, formatJson, formatText } from '../server/log.js';
import { CliError } from '../cli-error.js';
import { defaultScenarios, NAMESPACE, type ScenarioTable } from '../scenarios/index.js';
import type { Scenario } from '../scenarios/scenario.js';
import { MALFORMED_KINDS } from '../images/malformed/index.js';
import { addProxyOptions, collect } from './options.js';
import { checkStoreDir } from './store-dir.js';
import type { Io } from './io.js';
import { addAuthOptions } from '../auth/options.js';
import { FAULT_KEYS, RULES_GRAMMAR } from '../faults/rules.js';

export function serveCommand(io: Io): Command {
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
    .addHelpText('after', () => `\n${scenarioHelp(defaultScenarios())}\n${EXAMPLES}`);
  return addAuthOptions(addProxyOptions(command)).action(async (flags: ServeFlags) => {
    await serve(flags, io);
  });
}

const EXAMPLES = `Defaults: host 127.0.0.1, port 5000, store ~/broken-reg. Durations use Go syntax (300ms, 1.5s, 2m).
Examples:
  broken-reg serve --port 5000
  BLOB_DIR=/tmp/reg broken-reg serve --host 0.0.0.0 --warning 0.25:"registry is degraded"
  docker pull localhost:5000/broken/error:503
  skopeo copy --dest-tls-verify=false docker-archive:img.tar docker://localhost:5000/broken/prepared:img`;

/** The scenario table, from the scenarios' own metadata: each scenario, its nested form, each decorator. */
export function scenarioHelp(table: ScenarioTable): string {
  const row = (name: string, summary: string) => `  ${name.padEnd(40)} ${summary}`;
  // A scenario with several tag keys lists each, with an example, under its row.
  const keys = (s: Scenario) => (s.parameters.length > 1 ? s.parameters.map((p) => `      ${p.example.padEnd(36)} ${p.description}`) : []);
  const rows = table.scenarios.flatMap((s) => [row(s.example, s.summary), ...keys(s), ...(s.nested ? [row(...nestedForm(s))] : [])]);
  // The fault keys are many: they get their own block below (faultHelp).
  const decorators = (table.decorators ?? []).flatMap((d) => [
    row(`${NAMESPACE}/${d.name}/<rules>/<repository>`, `${d.summary} e.g. ${d.example}`),
    ...(d.name === 'fault' ? [] : d.parameters.map((p) => `      ${p.name.padEnd(36)} ${p.description}`)),
  ]);
  const proxy = row('<[host/]repository>:<tag>', 'Anything else: pulled through from --upstream (or the named host) and cached.');
  const kinds = MALFORMED_KINDS.map((k) => `  ${k.kind.padEnd(20)} ${k.defect} (${k.where})`);
  return ['Scenarios (pull <host:port>/<repository>:<tag>):', ...rows, ...decorators, proxy, '', 'broken/malformed:<kind>, one defect each:', ...kinds, '', faultHelp()].join('\n');
}

/** The fault keys, from the key table in faults/rules.ts. */
export function faultHelp(): string {
  const decorator = defaultScenarios().decorators?.find((d) => d.name === 'fault');
  const lines = FAULT_KEYS.map((k) => `  ${`${k.key}-${k.value}`.padEnd(40)} ${k.summary} (e.g. ${k.example})`);
  return [`Faults: ${RULES_GRAMMAR}, e.g. ${decorator?.example ?? ''}`, ...lines].join('\n');
}

/**
 * `broken/<name>/<path>`: a nested scenario owns the names below its own. A parameter written as a
 * placeholder (`<status>`) is the path it takes there; the requests it answers come from its table.
 */
function nestedForm(scenario: Scenario): [string, string] {
  const placeholder = scenario.parameters.find((p) => p.name.startsWith('<'));
  const kinds = [...new Set(Object.keys(scenario.operations).map((operation) => operation.split('.')[0]))];
  const requests = `${kinds.slice(0, -1).join(', ')}${kinds.length > 1 ? ' and ' : ''}${kinds.at(-1)} requests`;
  const name = `${NAMESPACE}/${scenario.name}/${placeholder?.name ?? '<path>'}`;
  if (!placeholder) return [name, `As above for any repository below ${NAMESPACE}/${scenario.name}/ (${requests}).`];
  return [name, `As above for ${requests}, with ${placeholder.name} in the path: ${placeholder.description}.`];
}

async function serve(flags: ServeFlags, io: Io): Promise<void> {
  const config = resolveServeConfig(flags, io.env);
  const format = config.logFormat === 'json' ? formatJson : formatText;
  const tls = config.tlsCert && config.tlsKey ? await readTls(config.tlsCert, config.tlsKey) : undefined;
  await checkStoreDir(config.store);
  const output = batchLines((text) => io.stdout.write(text));
  const registry = await buildRegistry({
    config,
    env: io.env,
    tls,
    log: (entry) => output.line(format(entry)),
    expireUploads: { onError: (error) => io.stderr.write(`broken-reg: upload expiry: ${(error as Error).message}\n`) },
    warn: (message) => io.stderr.write(`broken-reg: ${message}\n`),
  });
  let running: RunningServer;
  try {
    running = await listen(registry.app, { host: config.host, port: config.port, tls });
  } catch (error) {
    await registry.close();
    throw listenError(config, error as NodeJS.ErrnoException);
  }
  io.stdout.write(`broken-reg listening on ${running.url} (store ${config.store})\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => io.signals.onStop(resolve));
  io.stderr.write(`broken-reg: ${signal}, shutting down\n`);
  await running.close(5_000);
  await registry.close();
  output.flush();
}

function listenError({ host, port }: ServeConfig, error: NodeJS.ErrnoException): CliError {
  const where = `cannot listen on ${host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new CliError(`${where}: EADDRINUSE, port ${port} is already in use; choose another with --port <n>, or --port 0 for any free port`);
    case 'EACCES':
      return new CliError(`${where}: EACCES, port ${port} needs privileges here; choose one above 1023 with --port <n>, or --port 0`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new CliError(`${where}: ${error.code}, ${host} is not an address of this machine; choose another with --host`);
    default:
      return new CliError(`${where}: ${error.code ?? error.message}`);
  }
}

async function readTls(certFile: string, keyFile: string) {
  try {
    return { cert: await fs.readFile(certFile), key: await fs.readFile(keyFile) };
  } catch (error) {
    throw new CliError(`cannot read TLS files: ${(error as Error).message}`);
  }
}
