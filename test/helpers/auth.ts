// Helpers for the auth tests: htpasswd files written by Debian's htpasswd -B, challenges parsed the
// way the proxy parses them, tokens fetched from a realm, and pushes with an Authorization header.
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { parseWwwAuthenticate } from '../../src/proxy/auth.js';
import { makeTempDir, startRegistry, type StartOptions, type TestRegistry } from './registry.js';
import { ok, run } from './run.js';
import { VERIFIED_NAME } from './name-proxy.js';
import type { ImageParts } from './oci-http.js';
import { REQUEST_TIMEOUT_MS } from './oci-http.js';
import type { AuthOptions } from '../../src/auth/options.js';

export const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

/** An htpasswd file with bcrypt entries, written by `htpasswd -B` (cost 5 keeps the tests quick). */
export async function htpasswdFile(t: TestContext, users: Record<string, string>): Promise<string> {
  const dir = await makeTempDir(t, 'broken-reg-htpasswd-');
  const file = path.join(dir, 'htpasswd');
  const lines: string[] = [];
  for (const [user, password] of Object.entries(users)) {
    lines.push(ok(await run('htpasswd', ['-nbB', '-C', '5', user, password], { timeoutMs: 15_000 })).stdout.trim());
  }
  await fs.writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

export const USERS = { alice: 'wonder-land', bob: 'b0b-pass' };

/** A registry with --auth <mode> and the USERS in an htpasswd file. */
export async function startAuthRegistry(t: TestContext, auth: Partial<AuthOptions>, options: StartOptions = {}): Promise<TestRegistry> {
  const htpasswd = await htpasswdFile(t, USERS);
  return startRegistry(t, { ...options, config: { auth: { mode: 'token', anonymous: 'pull', tokenTtlMs: 300_000, htpasswd, ...auth }, ...options.config } });
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

export function challengeOf(response: Response): Challenge {
  const header = response.headers.get('www-authenticate');
  assert.ok(header, `a WWW-Authenticate header on the ${response.status}`);
  const [challenge] = parseWwwAuthenticate(header);
  assert.ok(challenge, `a challenge in ${header}`);
  return challenge;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
  token: string;
}

/** GET the realm (Basic credentials when given), as distribution's token spec has it. */
export async function getToken(realm: string, query: { service?: string; scope?: string[]; offline?: boolean }, authorization?: string): Promise<TokenAnswer> {
  const url = new URL(realm);
  if (query.service) url.searchParams.set('service', query.service);
  for (const scope of query.scope ?? []) url.searchParams.append('scope', scope);
  if (query.offline) url.searchParams.set('offline_token', 'true');
  const response = await fetch(url, { headers: authorization ? { Authorization: authorization } : {}, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return answer(response);
}

/** POST the realm an OAuth2 form. */
export async function postToken(realm: string, form: Record<string, string>): Promise<TokenAnswer> {
  const response = await fetch(realm, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return answer(response);
}

async function answer(response: Response): Promise<TokenAnswer> {
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON: body stays empty
  }
  const token = typeof body.access_token === 'string' ? body.access_token : typeof body.token === 'string' ? body.token : '';
  return { status: response.status, body, token };
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/** fetch relative to the registry with an Authorization header. */
export function callAs(registry: { url: string }, authorization: string | undefined, pathAndQuery: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (authorization) headers.set('Authorization', authorization);
  return fetch(`${registry.url}${pathAndQuery}`, { redirect: 'manual', ...init, headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

/** Pushes an image's blobs and manifest with an Authorization header; asserts every step worked. */
export async function pushImageAs(registry: { url: string }, authorization: string | undefined, name: string, reference: string, image: ImageParts): Promise<void> {
  for (const blob of [image.config, ...image.layers]) {
    const response = await callAs(registry, authorization, `/v2/${name}/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', body: new Uint8Array(blob.bytes) });
    assert.equal(response.status, 201, `push blob to ${name}: ${await response.text()}`);
  }
  const response = await callAs(registry, authorization, `/v2/${name}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': image.manifest.mediaType },
    body: new Uint8Array(image.manifest.bytes),
  });
  assert.equal(response.status, 201, `push manifest to ${name}: ${await response.text()}`);
}

export { startRegistry };

export interface TestCa {
  /** The CA certificate, for clients' cert dirs (`ca.crt`). */
  caFile: string;
  /** A directory holding ca.crt, for skopeo --cert-dir / podman --cert-dir. */
  certDir: string;
  cert: Buffer;
  key: Buffer;
}

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it (openssl, bounded). */
export async function makeTestCa(t: TestContext | { after(fn: () => unknown): void }): Promise<TestCa> {
  const dir = await makeTempDir(t as TestContext, 'broken-reg-ca-');
  const file = (name: string) => path.join(dir, name);
  const openssl = async (args: string[]) => ok(await run('openssl', args, { timeoutMs: 30_000 }));
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '1', '-subj', '/CN=broken-reg test CA']);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=127.0.0.1']);
  // VERIFIED_NAME too: the name dockerd reaches this certificate's registry by and verifies it for.
  await fs.writeFile(file('ext.cnf'), `subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:${VERIFIED_NAME}\n`);
  await openssl(['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.crt'), '-days', '1', '-extfile', file('ext.cnf')]);
  const certDir = file('certs');
  await fs.mkdir(certDir);
  await fs.copyFile(file('ca.crt'), path.join(certDir, 'ca.crt'));
  return { caFile: file('ca.crt'), certDir, cert: await fs.readFile(file('server.crt')), key: await fs.readFile(file('server.key')) };
}
