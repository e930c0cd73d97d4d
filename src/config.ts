// Configuration for serve: defaults < environment < flags, validated once and passed down.
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseFlag, UsageError } from './cli-error.js';
import { byteSize, duration, port, wholeNumber } from './params/values.js';
import { parseWarningRule, type WarningRule } from './server/warnings.js';
import { MAX_SYNTHETIC_REPOS, syntheticRepositories, type CatalogOptions } from './registry/catalog.js';
import { DEFAULT_UPLOAD_TIMEOUT_MS } from './store/uploads.js';
import { resolveProxyOptions, type ProxyFlags, type ProxyOptions } from './proxy/index.js';
import { resolveAuthOptions, type AuthFlags, type AuthOptions } from './auth/options.js';
import { DEFAULT_JOURNAL_SIZE } from './journal/journal.js';
import { LOOPBACK } from './control/guard.js';


export interface Limits {
  /** Longest broken/timeout wait, in milliseconds. */
  maxTimeoutMs: number;
  /** Most layers a broken/random image may have. */
  maxLayers: number;
  /** Largest broken/random layer payload, in bytes. */
  maxRandomSize: number;
}

export interface ServeConfig {
  host: string;
  port: number;
  store: string;
  tlsCert?: string;
  tlsKey?: string;
  logFormat: 'text' | 'json';
  limits: Limits;
  catalog: CatalogOptions;
  warnings: WarningRule[];
  proxy: ProxyOptions;
  /** serve --auth: none, basic or token, and what goes with it. */
  auth: AuthOptions;
  /** Upload sessions untouched this long are removed. */
  uploadTimeoutMs: number;
  // The request journal and the control plane (/_broken/...): see control/plane.ts.
  /** Requests the journal keeps; 0 turns it off. */
  journalSize: number;
  /** Opens the control plane to clients outside adminAllow with `Authorization: Bearer <token>`. */
  adminToken?: string;
  /** Client addresses the control plane answers without a token: IPs, or "loopback". */
  adminAllow: string[];
  /** Run-time rules to load at start (JSON or YAML). */
  rulesFile?: string;
}

export const DEFAULT_PORT = 5000;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_LIMITS: Limits = {
  maxTimeoutMs: 60 * 60 * 1000,
  maxLayers: 100,
  maxRandomSize: 1024 ** 3,
};

/** The highest --max-layers: a 10,000-layer manifest is about 1.6 MB, well under the 4 MiB manifest limit. */
export const MAX_LAYERS_LIMIT = 10_000;

export function defaultStore(env: NodeJS.ProcessEnv): string {
  return env.BLOB_DIR || path.join(os.homedir(), 'broken-reg');
}

export interface ServeFlags extends ProxyFlags, AuthFlags {
  host?: string;
  port?: string;
  store?: string;
  tlsCert?: string;
  tlsKey?: string;
  logFormat?: string;
  maxTimeout?: string;
  maxLayers?: string;
  maxRandomSize?: string;
  catalogDelay?: string;
  catalogRepos?: string;
  warning?: string[];
  uploadTimeout?: string;
  journalSize?: string;
  adminToken?: string;
  adminAllow?: string[];
  rules?: string;
}

export function resolveServeConfig(flags: ServeFlags, env: NodeJS.ProcessEnv): ServeConfig {
  const portText = flags.port ?? env.BIND_PORT;
  const logFormat = flags.logFormat ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`--log-format must be text or json, got "${logFormat}"`);
  const tlsCert = flags.tlsCert ?? (env.CERT_FILE || undefined);
  const tlsKey = flags.tlsKey ?? (env.KEY_FILE || undefined);
  if (Boolean(tlsCert) !== Boolean(tlsKey)) throw new UsageError('TLS needs both --tls-cert and --tls-key (or CERT_FILE and KEY_FILE)');
  const catalogRepos = flags.catalogRepos ?? (env.V2_CATALOG_NUM_REPOS || undefined);
  const catalogDelay = flags.catalogDelay ?? (env.V2_CATALOG_DELAY || undefined);
  return {
    host: flags.host ?? (env.BIND_HOST || DEFAULT_HOST),
    port: portText === undefined || portText === '' ? DEFAULT_PORT : parseFlag(flags.port ? '--port' : 'BIND_PORT', portText, port),
    store: path.resolve(flags.store ?? defaultStore(env)),
    tlsCert,
    tlsKey,
    logFormat,
    limits: resolveLimits(flags),
    catalog: {
      delayMs: catalogDelay ? parseFlag(flags.catalogDelay ? '--catalog-delay' : 'V2_CATALOG_DELAY', catalogDelay, duration()) : 0,
      synthetic:
        catalogRepos === undefined
          ? undefined
          : syntheticRepositories(
              parseFlag(flags.catalogRepos ? '--catalog-repos' : 'V2_CATALOG_NUM_REPOS', catalogRepos, wholeNumber({ max: MAX_SYNTHETIC_REPOS })),
            ),
    },
    warnings: (flags.warning ?? []).map(parseWarningRule),
    proxy: resolveProxyOptions(flags),
    auth: resolveAuthOptions(flags),
    uploadTimeoutMs: flags.uploadTimeout ? parseFlag('--upload-timeout', flags.uploadTimeout, duration({ positive: true })) : DEFAULT_UPLOAD_TIMEOUT_MS,
    journalSize: flags.journalSize === undefined ? DEFAULT_JOURNAL_SIZE : parseFlag('--journal-size', flags.journalSize, wholeNumber({ max: 1_000_000 })),
    adminToken: adminToken(flags.adminToken),
    adminAllow: adminAllow(flags.adminAllow),
    rulesFile: flags.rules === undefined ? undefined : path.resolve(flags.rules),
  };
}

/** The limits from --max-timeout, --max-layers and --max-random-size (serve's, and seed's). */
export function resolveLimits(flags: Pick<ServeFlags, 'maxTimeout' | 'maxLayers' | 'maxRandomSize'>): Limits {
  return {
    maxTimeoutMs: flags.maxTimeout ? parseFlag('--max-timeout', flags.maxTimeout, duration()) : DEFAULT_LIMITS.maxTimeoutMs,
    maxLayers: flags.maxLayers ? parseFlag('--max-layers', flags.maxLayers, wholeNumber({ min: 1, max: MAX_LAYERS_LIMIT })) : DEFAULT_LIMITS.maxLayers,
    maxRandomSize: flags.maxRandomSize ? parseFlag('--max-random-size', flags.maxRandomSize, byteSize()) : DEFAULT_LIMITS.maxRandomSize,
  };
}

function adminToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  if (!/^[\x21-\x7e]{8,256}$/.test(token)) throw new UsageError('--admin-token must be 8 to 256 printable characters without spaces');
  return token;
}

/** --admin-allow, repeatable or comma-separated: IP addresses, or "loopback" (the default). */
function adminAllow(values: string[] | undefined): string[] {
  if (values === undefined) return [LOOPBACK];
  const list = values.flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
  for (const value of list) {
    if (value !== LOOPBACK && net.isIP(value) === 0) throw new UsageError(`--admin-allow: "${value}" is not an IP address or "${LOOPBACK}"`);
  }
  return list;
}
