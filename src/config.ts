// Configuration for serve: defaults < environment < flags, validated once and passed down.
import os from 'node:os';
import path from 'node:path';

export interface ServeConfig {
  host: string;
  port: number;
  store: string;
  tlsCert?: string;
  tlsKey?: string;
  logFormat: 'text' | 'json';
}

export const DEFAULT_PORT = 5000;
export const DEFAULT_HOST = '127.0.0.1';

export function defaultStore(env: NodeJS.ProcessEnv): string {
  return env.BLOB_DIR || path.join(os.homedir(), 'broken-reg');
}

export class UsageError extends Error {
  readonly exitCode = 2;
}

export function parsePort(text: string, source: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new UsageError(`${source}: "${text}" is not a port number (0-65535)`);
  return Number(text);
}

export interface ServeFlags {
  host?: string;
  port?: string;
  store?: string;
  tlsCert?: string;
  tlsKey?: string;
  logFormat?: string;
}

export function resolveServeConfig(flags: ServeFlags, env: NodeJS.ProcessEnv): ServeConfig {
  const portText = flags.port ?? env.BIND_PORT;
  const logFormat = flags.logFormat ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`--log-format must be text or json, got "${logFormat}"`);
  const tlsCert = flags.tlsCert ?? (env.CERT_FILE || undefined);
  const tlsKey = flags.tlsKey ?? (env.KEY_FILE || undefined);
  if (Boolean(tlsCert) !== Boolean(tlsKey)) throw new UsageError('TLS needs both --tls-cert and --tls-key (or CERT_FILE and KEY_FILE)');
  return {
    host: flags.host ?? (env.BIND_HOST || DEFAULT_HOST),
    port: portText === undefined || portText === '' ? DEFAULT_PORT : parsePort(portText, flags.port ? '--port' : 'BIND_PORT'),
    store: path.resolve(flags.store ?? defaultStore(env)),
    tlsCert,
    tlsKey,
    logFormat,
  };
}
