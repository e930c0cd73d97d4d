// An independent checker for images: walks a manifest (an index's children too), fetches what it
// references, and reports every defect it finds as `<code> @ <where>`. The malformed corpus tests
// use it to prove each kind has exactly its one defect, where the kinds table says. It shares no code
// with the generator: tar headers, gzip (node:zlib) and zstd (Debian's zstd) are read independently.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import path from 'node:path/posix';

export interface Fetched {
  mediaType: string;
  bytes: Buffer;
}

export interface ImageFetcher {
  /** A manifest by digest, undefined when the registry has none. */
  manifest(digest: string): Promise<Fetched | undefined>;
  blob(digest: string): Promise<Buffer | undefined>;
}

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEXES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const GZIP_TYPES = new Set([
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
]);
const ZSTD_TYPES = new Set(['application/vnd.oci.image.layer.v1.tar+zstd']);
const TAR_TYPES = new Set(['application/vnd.oci.image.layer.v1.tar', 'application/vnd.docker.image.rootfs.diff.tar']);
const MAX_MANIFEST = 4 * 1024 * 1024;

/** Kinds whose layers are zstd, which checkImage reads with Debian's zstd. */
export const ZSTD_KINDS: ReadonlySet<string> = new Set(['mediatype-lie', 'zstd-in-docker']);

interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  urls?: string[];
  platform?: unknown;
}

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Every defect of the image `root` (with its served digest) and what it references, sorted. */
export async function checkImage(root: Fetched & { digest: string }, fetcher: ImageFetcher): Promise<string[]> {
  const findings = new Set<string>();
  await checkManifest(root, root.digest, '', fetcher, (code, where) => findings.add(`${code} @ ${where}`));
  return [...findings].sort();
}

type Report = (code: string, where: string) => void;

async function checkManifest(manifest: Fetched, digest: string, prefix: string, fetcher: ImageFetcher, report: Report): Promise<void> {
  const { mediaType, bytes } = manifest;
  if (bytes.length > MAX_MANIFEST) report('manifest-huge', `${prefix}manifest`);
  const value = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  if (mediaType.startsWith('application/vnd.docker.distribution.manifest.v1+')) {
    return checkSchema1(value, bytes, digest, mediaType, prefix, fetcher, report);
  }
  if (sha256(bytes) !== digest) report('manifest-digest-mismatch', `${prefix}manifest`);
  if (INDEXES.has(mediaType)) return checkIndex(value, prefix, fetcher, report);
  if (mediaType !== DOCKER_MANIFEST && mediaType !== OCI_MANIFEST) return report('manifest-type-unknown', `${prefix}manifest`);
  const layers = (value.layers ?? []) as Descriptor[];
  if (layers.length === 0) report('layers-zero', `${prefix}manifest layers`);
  const diffIds = await checkConfig(value.config as Descriptor, prefix, fetcher, report);
  for (const [i, layer] of layers.entries()) {
    const where = `${prefix}layers[${i}]`;
    const type = layer.mediaType ?? '';
    if (!GZIP_TYPES.has(type) && !ZSTD_TYPES.has(type) && !TAR_TYPES.has(type)) report('mediatype-unknown', `${where} mediaType`);
    if (mediaType === DOCKER_MANIFEST && ZSTD_TYPES.has(type)) report('zstd-in-docker', `${where} mediaType`);
    if (layer.urls) {
      report('foreign-layer', `${where} urls`);
      for (const url of layer.urls) if (!/^https?:\/\/127\.\d+\.\d+\.\d+[:/]/.test(url)) report('foreign-url-off-machine', `${where} urls`);
      continue; // a foreign layer's blob lives at its urls, not here
    }
    const blob = await fetchBlob(layer, where, fetcher, report);
    if (!blob) continue;
    const tar = decompress(blob, type, where, report);
    if (!tar) continue;
    const diffId = diffIds?.[i];
    if (diffIds && diffId !== sha256(tar)) report('diffid-mismatch', `${prefix}config rootfs.diff_ids[${i}]`);
    checkTar(tar, `${where} tar`, report);
  }
}

async function checkIndex(value: Record<string, unknown>, prefix: string, fetcher: ImageFetcher, report: Report): Promise<void> {
  for (const [i, entry] of ((value.manifests ?? []) as Descriptor[]).entries()) {
    const where = `${prefix}index manifests[${i}]`;
    if (!entry.platform) report('index-noplatform', `${where} platform`);
    const child = await fetcher.manifest(entry.digest);
    if (!child) {
      report('index-child-missing', where);
      continue;
    }
    if (child.bytes.length !== entry.size) report('size-mismatch', `${where} descriptor size`);
    if (child.mediaType !== entry.mediaType) report('mediatype-mismatch', `${where} mediaType`);
    if (INDEXES.has(child.mediaType)) report('index-nested', where);
    await checkManifest(child, entry.digest, `manifests[${i}] `, fetcher, report);
  }
}

async function checkConfig(config: Descriptor, prefix: string, fetcher: ImageFetcher, report: Report): Promise<string[] | undefined> {
  const where = `${prefix}config`;
  const bytes = await fetcher.blob(config.digest);
  if (!bytes) return void report('config-missing', `${where} blob`);
  if (sha256(bytes) !== config.digest) report('digest-mismatch', `${where} blob`);
  if (bytes.length !== config.size) report('size-mismatch', `${where} descriptor size`);
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { rootfs?: { diff_ids?: string[] } };
    return parsed.rootfs?.diff_ids ?? [];
  } catch {
    return void report('config-invalid-json', `${where} blob`);
  }
}

async function fetchBlob(layer: Descriptor, where: string, fetcher: ImageFetcher, report: Report): Promise<Buffer | undefined> {
  const bytes = await fetcher.blob(layer.digest);
  if (!bytes) return void report('blob-missing', `${where} blob`);
  if (sha256(bytes) !== layer.digest) report('digest-mismatch', `${where} blob`);
  if (bytes.length !== layer.size) report('size-mismatch', `${where} descriptor size`);
  return bytes;
}

/** The tar inside a layer blob, by its magic bytes; a media type that says otherwise is a lie. */
function decompress(blob: Buffer, mediaType: string, where: string, report: Report): Buffer | undefined {
  const isGzip = blob[0] === 0x1f && blob[1] === 0x8b;
  const isZstd = blob.length >= 4 && blob.readUInt32LE(0) === 0xfd2fb528;
  const says = GZIP_TYPES.has(mediaType) ? 'gzip' : ZSTD_TYPES.has(mediaType) ? 'zstd' : TAR_TYPES.has(mediaType) ? 'tar' : undefined;
  const is = isGzip ? 'gzip' : isZstd ? 'zstd' : 'tar';
  if (says && says !== is) report('mediatype-lie', `${where} mediaType`);
  if (isGzip) {
    try {
      return gunzipSync(blob);
    } catch (error) {
      report((error as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' ? 'gzip-truncated' : 'gzip-invalid', `${where} gzip`);
      return undefined;
    }
  }
  if (isZstd) {
    const result = spawnSync('zstd', ['-d', '-c', '-q'], { input: blob, timeout: 10_000, maxBuffer: 64 << 20 });
    if (result.error) throw new Error(`zstd could not run (Debian: apt-get install zstd): ${result.error.message}`);
    if (result.status !== 0) return void report('zstd-invalid', `${where} zstd`);
    return result.stdout;
  }
  return blob;
}

/** Reads ustar headers one by one and reports what is odd in the archive. */
export function checkTar(tar: Buffer, where: string, report: Report): void {
  const seen = new Set<string>();
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((byte) => byte === 0)) return; // end of archive
    if (!checksumOk(header)) return report('tar-invalid', where);
    const name = cString(header, 0, 100);
    const type = String.fromCharCode(header[156] ?? 0x30);
    const link = cString(header, 157, 100);
    const size = sizeField(header.subarray(124, 136));
    const dataEnd = at + 512 + Math.ceil(size / 512) * 512;
    if (at + 512 + size > tar.length) return report('tar-huge-header', where);
    const clean = path.normalize(name);
    if (name.startsWith('/') || clean.startsWith('..')) report('tar-traversal', where);
    if (type === '2' && path.normalize(path.join(path.dirname(clean), link)).startsWith('..')) report('tar-traversal', where);
    if (type === '2' && link.startsWith('/')) report('tar-traversal', where);
    if (path.basename(clean).startsWith('.wh.')) report('whiteouts', where);
    if (type === '1' && !seen.has(path.normalize(link))) report('hardlink-missing', where);
    seen.add(clean);
    at = dataEnd;
  }
  report('tar-unterminated', where);
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return parseInt(cString(header, 148, 8).trim(), 8) === sum;
}

function sizeField(field: Buffer): number {
  if ((field[0]! & 0x80) !== 0) {
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  return parseInt(cString(field, 0, field.length).trim() || '0', 8);
}

function cString(bytes: Buffer, offset: number, length: number): string {
  const field = bytes.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? field.length : nul).toString('utf8');
}

async function checkSchema1(value: Record<string, unknown>, bytes: Buffer, digest: string, mediaType: string, prefix: string, fetcher: ImageFetcher, report: Report): Promise<void> {
  const where = `${prefix}manifest`;
  if (mediaType.endsWith('+prettyjws')) {
    report('schema1-signed', where);
    const payload = verifiedPayload(value, bytes);
    if (!payload) report('schema1-signature-invalid', where);
    else if (sha256(payload) !== digest) report('manifest-digest-mismatch', where);
  } else {
    report('schema1-unsigned', where);
    if (sha256(bytes) !== digest) report('manifest-digest-mismatch', where);
  }
  for (const [i, layer] of ((value.fsLayers ?? []) as { blobSum: string }[]).entries()) {
    const layerWhere = `${prefix}layers[${i}]`;
    const blob = await fetcher.blob(layer.blobSum);
    if (!blob) {
      report('blob-missing', `${layerWhere} blob`);
      continue;
    }
    if (sha256(blob) !== layer.blobSum) report('digest-mismatch', `${layerWhere} blob`);
    const tar = decompress(blob, 'application/vnd.docker.image.rootfs.diff.tar.gzip', layerWhere, report);
    if (tar) checkTar(tar, `${layerWhere} tar`, report);
  }
}

interface Jws {
  header: { jwk: { kty: string; kid: string; n: string; e: string }; alg: string };
  signature: string;
  protected: string;
}

/** The payload of a libtrust-signed manifest when its one RS256 signature and key ID verify. */
function verifiedPayload(value: Record<string, unknown>, bytes: Buffer): Buffer | undefined {
  const [signature] = (value.signatures ?? []) as Jws[];
  if (!signature || signature.header.alg !== 'RS256') return undefined;
  const header = JSON.parse(Buffer.from(signature.protected, 'base64url').toString('utf8')) as { formatLength: number; formatTail: string };
  const payload = Buffer.concat([bytes.subarray(0, header.formatLength), Buffer.from(header.formatTail, 'base64url')]);
  const key = createPublicKey({ key: signature.header.jwk, format: 'jwk' });
  const der = key.export({ format: 'der', type: 'spki' });
  if (libtrustKeyId(der) !== signature.header.jwk.kid) return undefined;
  const input = Buffer.from(`${signature.protected}.${payload.toString('base64url')}`);
  return verify('sha256', input, key, Buffer.from(signature.signature, 'base64url')) ? payload : undefined;
}

/** libtrust's key ID: base32 of the first 240 bits of the SHA-256 of the DER key, in groups of four. */
function libtrustKeyId(der: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const hash = createHash('sha256').update(der).digest().subarray(0, 30);
  let bits = '';
  for (const byte of hash) bits += byte.toString(2).padStart(8, '0');
  const chars = bits.match(/.{5}/g)!.map((group) => alphabet[parseInt(group, 2)]).join('');
  return chars.match(/.{4}/g)!.join(':');
}
