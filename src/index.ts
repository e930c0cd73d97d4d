// The library: a registry for Node tests, started and stopped in-process through the same code paths
// as `broken-reg serve` (buildRegistry, listen). A temp store unless one is given, removed on close;
// port 0 (one from the OS) unless one is given; close() leaves no timer, socket or thread behind.
//
//   const registry = await startRegistry();
//   await registry.addRule({ repository: 'library/nginx', operation: 'manifest' }, 'status-503_times-2');
//   ... a client pulls from registry.host ...
//   registry.journal({ repository: 'library/nginx' })   // what the client did
//   await registry.close();
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { resolveServeConfig, type ServeConfig } from './config.js';
import { buildRegistry } from './server/build.js';
import { listen } from './server/listen.js';
import type { RequestLog } from './server/log.js';
import type { Decorator } from './scenarios/scenario.js';
import type { JournalEntry, JournalFilter } from './journal/journal.js';
import type { Rule, RuleInput, RuleMatch } from './control/rules.js';

export type { JournalEntry, JournalFilter } from './journal/journal.js';
export type { Rule, RuleInput, RuleMatch } from './control/rules.js';
export type { RequestLogEntry } from './server/log.js';
export type { Decorator } from './scenarios/scenario.js';
export type { ServeConfig } from './config.js';

export interface StartOptions extends Partial<Omit<ServeConfig, 'host' | 'port' | 'store'>> {
  /** Default 0: a free port from the OS. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** A store directory to serve (kept on close); default a temp directory, removed on close. */
  store?: string;
  /** Run-time rules to add before the first request. */
  rules?: RuleInput[];
  /** Each request's log entry, as `serve` prints it; default none. */
  log?: RequestLog;
  /** What failed in the background, where no client sees it (a blob pulled through and not stored); default none. */
  warn?: (message: string) => void;
  /** Decorators of your own, served as broken/<name>/<rules>/<repository> and usable by rules. */
  decorators?: readonly Decorator[];
}

export interface RunningRegistry {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port>, as image references name the registry. */
  host: string;
  port: number;
  /** The store directory served. */
  store: string;
  /** The journal's entries (oldest first) that pass the filter. */
  journal(filter?: JournalFilter): JournalEntry[];
  /** Adds a run-time rule: requests matching `match` are served through `decorator` (default fault) with `rules`. */
  addRule(match: RuleMatch, rules: string, decorator?: string): Rule;
  removeRule(id: number): boolean;
  rules(): Rule[];
  /** Starts every count (times-N, rule matches) and the journal again; the rules stay. */
  reset(): void;
  /** Stops the server and everything it started, and removes a temp store. */
  close(): Promise<void>;
}

export async function startRegistry(options: StartOptions = {}): Promise<RunningRegistry> {
  const { port = 0, host = '127.0.0.1', store, rules = [], log = () => undefined, warn, decorators, ...overrides } = options;
  const ownStore = store === undefined;
  const dir = store ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'broken-reg-')));
  const removeStore = () => (ownStore ? fs.rm(dir, { recursive: true, force: true }) : Promise.resolve());
  const config: ServeConfig = { ...resolveServeConfig({ store: dir, port: String(port), host }, {}), ...overrides };
  let registry: Awaited<ReturnType<typeof buildRegistry>> | undefined;
  try {
    const tls = config.tlsCert && config.tlsKey ? { cert: await fs.readFile(config.tlsCert), key: await fs.readFile(config.tlsKey) } : undefined;
    registry = await buildRegistry({ config, log, warn, decorators, tls });
    for (const rule of rules) registry.rules.add(rule);
    const running = await listen(registry.app, { host, port, tls });
    const built = registry;
    let closing: Promise<void> | undefined;
    return {
      url: running.url,
      host: new URL(running.url).host,
      port: running.port,
      store: dir,
      journal: (filter) => built.journal.entries(filter),
      addRule: (match, text, decorator) => built.rules.add(decorator === undefined ? { match, rules: text } : { match, rules: text, decorator }),
      removeRule: (id) => built.rules.remove(id),
      rules: () => built.rules.list(),
      reset: () => built.reset(),
      close: () =>
        (closing ??= (async () => {
          await running.close(0);
          await built.close();
          await removeStore();
        })()),
    };
  } catch (error) {
    await registry?.close();
    await removeStore();
    throw error;
  }
}
