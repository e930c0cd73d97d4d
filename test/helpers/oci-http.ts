// Test content for the HTTP API suites: blobs and manifests with their digests, pushes over real HTTP,
// raw requests that no client normalizes, and small assertions on the OCI error envelope.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { TestRegistry } from './registry.js';

/** Every request in these suites gives up after this long instead of hanging the run. */
export const REQUEST_TIMEOUT_MS = 10_000;

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/** The repository tests push to unless they say otherwise. */
export const REPO = 'broken/prepared';

export interface Content {
  bytes: Buffer;
  digest: string;
  size: number;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
}

export interface ManifestContent extends Content {
  mediaType: string;
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function content(data: Uint8Array | string): Content {
  const bytes = Buffer.from(data);
  return { bytes, digest: sha256(bytes), size: bytes.length };
}

/** size deterministic pseudo-random bytes (a small LCG: the same seed gives the same blob). */
export function randomContent(size: number, seed = 1): Content {
  const bytes = Buffer.alloc(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return content(bytes);
}

export function descriptor(item: Content, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: item.digest, size: item.size, ...extra };
}

/** A manifest as exact bytes: callers that care about whitespace pass their own text. */
export function manifestFrom(value: unknown | string, mediaType: string): ManifestContent {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return { ...content(text), mediaType };
}

export interface ImageParts {
  config: Content;
  layers: Content[];
  manifest: ManifestContent;
}

export interface ImageOptions {
  seed?: number;
  layerCount?: number;
  layerSize?: number;
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** An OCI image: a config, layerCount layers of random bytes, and its manifest. */
export function ociImage(options: ImageOptions = {}): ImageParts {
  const seed = options.seed ?? 1;
  const config = content(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layers = Array.from({ length: options.layerCount ?? 1 }, (_, i) => randomContent(options.layerSize ?? 1024, seed * 1000 + i));
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(config, OCI_CONFIG),
    layers: layers.map((layer) => descriptor(layer, OCI_LAYER)),
  };
  if (options.artifactType) manifest.artifactType = options.artifactType;
  if (options.subject) manifest.subject = options.subject;
  if (options.annotations) manifest.annotations = options.annotations;
  return { config, layers, manifest: manifestFrom(manifest, OCI_MANIFEST) };
}

/** An artifact manifest (empty config) pointing at subject, with one small blob. */
export function ociArtifact(subject: Descriptor, artifactType: string, seed: number): ImageParts {
  const config = content('{}');
  const layers = [content(`artifact ${artifactType} ${seed}`)];
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: descriptor(config, OCI_EMPTY),
    layers: layers.map((layer) => descriptor(layer, 'application/octet-stream')),
    subject,
    annotations: { 'org.example.seed': String(seed) },
  };
  return { config, layers, manifest: manifestFrom(manifest, OCI_MANIFEST) };
}

// ---- requests ----

/** RequestInit, with Buffers allowed as bodies. */
export type CallInit = Omit<RequestInit, 'body' | 'signal'> & { body?: Uint8Array | string };

/** fetch with a timeout, relative to the registry. */
export function call(registry: TestRegistry, pathAndQuery: string, init: CallInit = {}): Promise<Response> {
  const { body, ...rest } = init;
  return fetch(`${registry.url}${pathAndQuery}`, {
    redirect: 'manual',
    ...rest,
    // A copy typed as the plain ArrayBuffer view fetch's types ask for.
    body: body instanceof Uint8Array ? new Uint8Array(body) : body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
}

/** Monolithic upload: POST /blobs/uploads/?digest=. */
export async function pushBlob(registry: TestRegistry, name: string, blob: Content): Promise<void> {
  const response = await call(registry, `/v2/${name}/blobs/uploads/?digest=${blob.digest}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: blob.bytes,
  });
  await response.arrayBuffer();
  assert.equal(response.status, 201, `pushing blob ${blob.digest} to ${name}`);
}

export async function pushManifest(registry: TestRegistry, name: string, reference: string, manifest: ManifestContent): Promise<Response> {
  const response = await call(registry, `/v2/${name}/manifests/${reference}`, {
    method: 'PUT',
    headers: { 'Content-Type': manifest.mediaType },
    body: manifest.bytes,
  });
  await response.arrayBuffer();
  assert.equal(response.status, 201, `pushing manifest ${reference} to ${name}`);
  assert.equal(response.headers.get('docker-content-digest'), manifest.digest);
  return response;
}

/** Pushes every blob of an image, then its manifest under reference (a tag or its digest). */
export async function pushImage(registry: TestRegistry, name: string, reference: string, image: ImageParts): Promise<Response> {
  for (const blob of [image.config, ...image.layers]) await pushBlob(registry, name, blob);
  return pushManifest(registry, name, reference, image.manifest);
}

export async function getBytes(registry: TestRegistry, pathAndQuery: string, init: CallInit = {}): Promise<{ response: Response; body: Buffer }> {
  const response = await call(registry, pathAndQuery, init);
  return { response, body: Buffer.from(await response.arrayBuffer()) };
}

export interface ErrorEnvelope {
  errors: { code: string; message: string; detail: unknown }[];
}

/** Asserts the status, the API version header and the OCI envelope with exactly one error of code. */
export async function expectError(response: Response, status: number, code: string): Promise<ErrorEnvelope['errors'][number]> {
  const text = await response.text();
  assert.equal(response.status, status, `expected ${status} ${code}, got ${response.status}: ${text.slice(0, 300)}`);
  assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = JSON.parse(text) as ErrorEnvelope;
  assertEnvelope(body);
  const [error] = body.errors;
  assert.ok(error);
  assert.equal(error.code, code, `expected code ${code}, got ${error.code}: ${error.message}`);
  return error;
}

export function assertEnvelope(body: unknown): asserts body is ErrorEnvelope {
  assert.ok(typeof body === 'object' && body !== null && Array.isArray((body as ErrorEnvelope).errors), 'an {"errors": [...]} envelope');
  const errors = (body as ErrorEnvelope).errors;
  assert.equal(errors.length, 1);
  const [error] = errors;
  assert.deepEqual(Object.keys(error ?? {}).sort(), ['code', 'detail', 'message']);
  assert.equal(typeof error?.code, 'string');
  assert.equal(typeof error?.message, 'string');
  assert.ok((error?.message.length ?? 0) > 0, 'the message says something');
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request whose path goes on the wire exactly as written: fetch and URL normalize "..", "%2e" and
 * friends away, so traversal attempts need this.
 */
export function rawRequest(
  registry: TestRegistry,
  method: string,
  rawPath: string,
  options: { headers?: http.OutgoingHttpHeaders; body?: Buffer | string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: '127.0.0.1', port: registry.port, method, path: rawPath, headers: options.headers, agent: false, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** The code of the one error in a raw response's envelope, after checking its shape. */
export function rawErrorCode(response: RawResponse): string {
  const body: unknown = JSON.parse(response.body.toString('utf8'));
  assertEnvelope(body);
  return body.errors[0]?.code ?? '';
}

// ---- the store on disk ----

/** Every file below dir (not directories), as paths relative to dir, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(current, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else found.push(path.relative(dir, full));
    }
  };
  await walk(dir);
  return found.sort();
}

/**
 * Polls check until it returns true, at most attempts times with a short pause between: for
 * server-side cleanup that happens after the client has already seen the connection end.
 */
export async function eventually(check: () => Promise<boolean>, attempts = 100, pauseMs = 20): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return check();
}
