// Registry credentials from the Docker config: $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
// Only inline `auths` entries are read (`auth`: base64 user:password, or `username`/`password`);
// credential helpers (`credsStore`, `credHelpers`) are not run.
import { isObject } from '../oci/digest.js';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canonicalHost } from './upstream-name.js';

export interface Credentials {
  username: string;
  password: string;
}

/** Credentials by registry host (`docker.io` for every Docker Hub alias). */
export type CredentialTable = ReadonlyMap<string, Credentials>;

export function dockerConfigPath(env: NodeJS.ProcessEnv): string {
  const dir = env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

/** The host an `auths` key names: `https://index.docker.io/v1/` -> `docker.io`, `quay.io` -> `quay.io`. */
export function hostOfAuthKey(key: string): string {
  const withoutScheme = key.trim().replace(/^[a-z]+:\/\//i, '');
  const host = withoutScheme.split('/')[0] ?? '';
  return canonicalHost(host);
}

/** Parses config.json text into a credential table; entries without usable credentials are skipped. */
export function parseDockerConfig(text: string): Map<string, Credentials> {
  const table = new Map<string, Credentials>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return table;
  }
  const auths = isObject(parsed) && isObject(parsed.auths) ? parsed.auths : {};
  for (const [key, entry] of Object.entries(auths)) {
    if (!isObject(entry)) continue;
    const credentials = credentialsOf(entry);
    if (credentials) table.set(hostOfAuthKey(key), credentials);
  }
  return table;
}

function credentialsOf(entry: Record<string, unknown>): Credentials | undefined {
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string' && entry.username !== '') {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Reads the Docker config; a missing or unreadable file means no credentials. */
export async function loadDockerCredentials(env: NodeJS.ProcessEnv): Promise<Map<string, Credentials>> {
  try {
    return parseDockerConfig(await fs.readFile(dockerConfigPath(env), 'utf8'));
  } catch {
    return new Map();
  }
}

export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

