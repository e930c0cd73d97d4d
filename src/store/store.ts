// The store: content-addressed blobs, manifests kept byte-for-byte with their media type, tags,
// referrers and repository facts, all on disk (layout.ts, private to this folder) and written
// atomically. `Store` is the boundary everything else uses; `FsStore` is the one implementation.
import fs from 'node:fs/promises';
import { digestBytes, parseDigest, type Algorithm, type Digest } from '../oci/digest.js';
import { StoreLayout } from './layout.js';
import { isMissing, readTextIfExists, removeStaleTemps, writeFileAtomic } from './atomic.js';
import { describeManifest, type ReferrerFacts } from './manifest-facts.js';
import type { Descriptor } from '../oci/descriptor.js';
import { FileMemo, statIfExists } from './file-memo.js';
import { FileHasher } from './file-hasher.js';
import type { RunningDigest } from './running-digest.js';
import { openBlobWriter, type BlobWriter, type BlobWriterOptions } from './blob-writer.js';
import { DigestMismatch } from './errors.js';
import { listRevisions, listStoredBlobs, readMeta, readRevision, type Revision, type StoredBlob } from './listing.js';

export type { BlobWriter, BlobWriterOptions, CommittedBlob } from './blob-writer.js';
export type { RunningDigest } from './running-digest.js';
export type { Revision, StoredBlob } from './listing.js';

export interface BlobInfo {
  digest: Digest;
  size: number;
  /** The stored file: read it, never write it. */
  path: string;
}

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
}

export interface PutManifestOptions {
  tag?: string;
  /** The digest the manifest must have (a PUT by digest); DigestMismatch otherwise. */
  expected?: Digest;
  /**
   * false: store the bytes under `expected` without hashing them (an import with verification off).
   * The bytes then must already be stored as that blob.
   */
  verify?: boolean;
}

export interface Store {
  /** The store directory, for messages. */
  readonly root: string;

  // blobs
  blob(digest: Digest): Promise<BlobInfo | undefined>;
  /** The blob, when it is stored and belongs to the repository. */
  repositoryBlob(name: string, digest: Digest): Promise<BlobInfo | undefined>;
  /** The one way a blob enters the store: write chunks, then commit (verified) or cancel. */
  blobWriter(options?: BlobWriterOptions): Promise<BlobWriter>;
  /**
   * A running digest of bytes fed in order, on the store's hashing thread: for a caller that checks
   * bytes as they arrive and commits a `hash: false` writer with the digest it found.
   */
  digester(algorithm: Algorithm): RunningDigest;
  /** Streams a whole body in as one blob: blobWriter, write, commit. */
  ingestBlob(source: AsyncIterable<Uint8Array>, expected?: Digest): Promise<BlobInfo>;
  linkBlob(name: string, digest: Digest): Promise<void>;
  /** Removes the blob from the repository; the content stays for other repositories. */
  unlinkBlob(name: string, digest: Digest): Promise<boolean>;
  /** Removes the content itself (an import undoing what it added). */
  removeBlob(digest: Digest): Promise<void>;

  // manifests and tags
  putManifest(name: string, bytes: Buffer, mediaType: string, options?: PutManifestOptions): Promise<{ digest: Digest; subject?: Digest }>;
  /** A manifest of the repository by tag or digest. Its bytes are shared: never change them. */
  getManifest(name: string, reference: string | Digest): Promise<StoredManifest | undefined>;
  deleteManifest(name: string, digest: Digest): Promise<boolean>;
  resolveTag(name: string, tag: string): Promise<Digest | undefined>;
  deleteTag(name: string, tag: string): Promise<boolean>;
  listTags(name: string): Promise<string[] | undefined>;
  referrers(name: string, subject: Digest): Promise<Descriptor[]>;

  // repositories and listings (inspect)
  listRepositories(): Promise<string[]>;
  /** The facts kept about a repository (e.g. its upstream), and a problem when they are unreadable. */
  repositoryMeta(name: string): Promise<{ meta: Record<string, unknown>; problem: string | null }>;
  /** Merges facts into the repository's metadata. */
  updateRepositoryMeta(name: string, facts: Record<string, unknown>): Promise<void>;
  listBlobs(): Promise<StoredBlob[]>;
  listRevisions(name: string): Promise<Revision[]>;
  revision(name: string, digest: Digest): Promise<Revision | undefined>;
  /** What a tag file says, unparsed (inspect reports a tag that holds no digest). */
  tagTarget(name: string, tag: string): Promise<string | undefined>;

  /** Stops the hashing thread; the store is not to be used after. */
  close(): Promise<void>;
}

/** Indexing a manifest reads its JSON; nesting deeper than this is not read (see readFacts). */
const MAX_JSON_DEPTH = 1_000;

export class FsStore implements Store {
  /** What pulls read again and again, checked against the files on every use (see file-memo.ts). */
  private readonly tagFiles = new FileMemo((bytes) => parseDigest(bytes.toString('utf8').trim()), { maxEntries: 10_000, maxBytes: 1 << 20 });
  private readonly revisionFiles = new FileMemo((bytes) => (JSON.parse(bytes.toString('utf8')) as { mediaType: string }).mediaType, {
    maxEntries: 10_000,
    maxBytes: 1 << 20,
  });
  private readonly manifestFiles = new FileMemo((bytes) => bytes, { maxEntries: 10_000, maxBytes: 64 << 20, contentAddressed: true });

  /** Hashes blobs as they are written, off the event loop. Shared with the upload sessions. */
  readonly hasher = new FileHasher();
  /** Manifest writes and deletes of one repository, one at a time (see putManifest). */
  private readonly repositoryLocks = new KeyedLock();

  private constructor(readonly layout: StoreLayout) {}

  get root(): string {
    return this.layout.root;
  }

  /** Opens (creating if needed) the store at root and removes temp files that crashed writers left. */
  static async open(root: string): Promise<FsStore> {
    const layout = new StoreLayout(root);
    for (const dir of [layout.root, layout.tmp(), layout.uploads(), layout.repositories()]) {
      await fs.mkdir(dir, { recursive: true });
    }
    await removeStaleTemps(layout);
    return new FsStore(layout);
  }

  async close(): Promise<void> {
    await this.hasher.close();
  }

  // ---- blobs ----

  async blob(digest: Digest): Promise<BlobInfo | undefined> {
    const file = this.layout.blob(digest);
    const stat = statIfExists(file);
    return stat ? { digest, size: stat.size, path: file } : undefined;
  }

  async repositoryBlob(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    if (!statIfExists(this.layout.blobLink(name, digest))) return undefined;
    return this.blob(digest);
  }

  blobWriter(options: BlobWriterOptions = {}): Promise<BlobWriter> {
    return openBlobWriter(this.layout, this.hasher, options);
  }

  digester(algorithm: Algorithm): RunningDigest {
    return this.hasher.digester(algorithm);
  }

  async ingestBlob(source: AsyncIterable<Uint8Array>, expected?: Digest): Promise<BlobInfo> {
    const writer = await this.blobWriter({ algorithm: expected?.algorithm });
    try {
      await writer.write(source);
      return await writer.commit(expected);
    } finally {
      await writer.cancel();
    }
  }

  async linkBlob(name: string, digest: Digest): Promise<void> {
    const link = this.layout.blobLink(name, digest);
    if (await exists(link)) return;
    await writeFileAtomic(this.layout, link, '');
  }

  async unlinkBlob(name: string, digest: Digest): Promise<boolean> {
    return removeIfExists(this.layout.blobLink(name, digest));
  }

  async removeBlob(digest: Digest): Promise<void> {
    await removeIfExists(this.layout.blob(digest));
  }

  // ---- manifests and tags ----

  /**
   * Stores a manifest exactly as sent, under its digest and optionally a tag. The bytes are never
   * re-encoded; their content is only read to index a subject for the referrers API. Everything that
   * can refuse the manifest is checked before anything is written; then the blob, the revision, the
   * referrer entry and the tag are written in that order, so a reader never finds a tag without them.
   */
  putManifest(name: string, bytes: Buffer, mediaType: string, options: PutManifestOptions = {}) {
    // A put by tag racing a delete by digest of the same manifest must not leave the tag naming a
    // revision the delete removed: the two run one after the other.
    return this.repositoryLocks.run(name, () => this.writeManifest(name, bytes, mediaType, options));
  }

  private async writeManifest(name: string, bytes: Buffer, mediaType: string, options: PutManifestOptions) {
    let digest: Digest;
    if (options.verify === false && options.expected) {
      digest = options.expected;
    } else {
      const algorithm: Algorithm = options.expected?.algorithm ?? 'sha256';
      digest = digestBytes(bytes, algorithm);
      if (options.expected && options.expected.text !== digest.text) throw new DigestMismatch('manifest', options.expected, digest);
    }
    const facts = readFacts(bytes, mediaType, digest.text);
    const referrer = facts.subject ? JSON.stringify(facts.descriptor) : undefined;
    const blob = this.layout.blob(digest);
    if (!(await exists(blob))) {
      if (options.verify === false) throw new Error(`internal: manifest ${digest.text} stored unverified must already be a blob`);
      await writeFileAtomic(this.layout, blob, bytes);
    }
    await writeFileAtomic(this.layout, this.layout.manifestRevision(name, digest), JSON.stringify({ mediaType }));
    if (facts.subject && referrer) await writeFileAtomic(this.layout, this.layout.referrer(name, facts.subject, digest), referrer);
    if (options.tag) await writeFileAtomic(this.layout, this.layout.tag(name, options.tag), digest.text);
    return { digest, subject: facts.subject };
  }

  async resolveTag(name: string, tag: string): Promise<Digest | undefined> {
    return this.tagFiles.read(this.layout.tag(name, tag));
  }

  async getManifest(name: string, reference: string | Digest): Promise<StoredManifest | undefined> {
    const digest = typeof reference === 'string' ? await this.resolveTag(name, reference) : reference;
    if (!digest) return undefined;
    const mediaType = await this.revisionFiles.read(this.layout.manifestRevision(name, digest));
    if (mediaType === undefined) return undefined;
    const bytes = await this.manifestFiles.read(this.layout.blob(digest));
    return bytes && { digest, mediaType, bytes };
  }

  /** Deletes a manifest revision, every tag pointing at it, and its referrer entry. */
  deleteManifest(name: string, digest: Digest): Promise<boolean> {
    return this.repositoryLocks.run(name, () => this.removeManifest(name, digest));
  }

  private async removeManifest(name: string, digest: Digest): Promise<boolean> {
    const manifest = await this.getManifest(name, digest);
    if (!manifest) return false;
    for (const tag of (await this.listTags(name)) ?? []) {
      if ((await this.resolveTag(name, tag))?.text === digest.text) await removeIfExists(this.layout.tag(name, tag));
    }
    const { subject } = readFacts(manifest.bytes, manifest.mediaType, digest.text);
    if (subject) await removeIfExists(this.layout.referrer(name, subject, digest));
    return removeIfExists(this.layout.manifestRevision(name, digest));
  }

  async deleteTag(name: string, tag: string): Promise<boolean> {
    return removeIfExists(this.layout.tag(name, tag));
  }

  /**
   * Tags of a repository, sorted; undefined when the repository does not exist. A directory that only
   * holds nested repositories (broken/prepared when only broken/prepared/a was pushed) is not one.
   */
  async listTags(name: string): Promise<string[] | undefined> {
    const own = await readdirIfExists(this.layout.repository(name));
    if (!own.some((entry) => entry.startsWith('_'))) return undefined;
    return (await readdirIfExists(this.layout.tags(name))).sort();
  }

  async referrers(name: string, subject: Digest): Promise<Descriptor[]> {
    const dir = this.layout.referrers(name, subject);
    const descriptors: Descriptor[] = [];
    for (const entry of (await readdirIfExists(dir)).sort()) {
      const text = await readTextIfExists(`${dir}/${entry}`);
      if (text !== undefined) descriptors.push(JSON.parse(text) as Descriptor);
    }
    return descriptors;
  }

  // ---- repositories and listings ----

  /** Every repository holding at least one manifest, sorted. */
  async listRepositories(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        if (entry.name === '_manifests') found.push(prefix);
        else if (!entry.name.startsWith('_')) await walk(`${dir}/${entry.name}`, prefix ? `${prefix}/${entry.name}` : entry.name);
      }
    };
    await walk(this.layout.repositories(), '');
    return found.sort();
  }

  repositoryMeta(name: string) {
    return readMeta(this.layout, name);
  }

  async updateRepositoryMeta(name: string, facts: Record<string, unknown>): Promise<void> {
    const { meta } = await readMeta(this.layout, name);
    if (Object.entries(facts).every(([key, value]) => meta[key] === value)) return;
    await writeFileAtomic(this.layout, this.layout.repositoryMeta(name), `${JSON.stringify({ ...meta, ...facts })}\n`);
  }

  listBlobs(): Promise<StoredBlob[]> {
    return listStoredBlobs(this.layout);
  }

  listRevisions(name: string): Promise<Revision[]> {
    return listRevisions(this.layout, name);
  }

  revision(name: string, digest: Digest): Promise<Revision | undefined> {
    return readRevision(this.layout, name, digest);
  }

  async tagTarget(name: string, tag: string): Promise<string | undefined> {
    return (await readTextIfExists(this.layout.tag(name, tag)))?.trim();
  }
}

/** Runs work for one key at a time, in arrival order; other keys run freely. */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.tails.set(key, next);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === next) this.tails.delete(key);
    }
  }
}

export function digestFromHash(algorithm: Algorithm, hex: string): Digest {
  return { algorithm, hex, text: `${algorithm}:${hex}` };
}

/**
 * What the store indexes of a manifest. JSON nested too deep to read safely is indexed like any other
 * unreadable content: stored as sent, with no subject.
 */
function readFacts(bytes: Buffer, mediaType: string, digest: string): ReferrerFacts {
  if (jsonDepthExceeds(bytes, MAX_JSON_DEPTH)) return { descriptor: { mediaType, digest, size: bytes.length } };
  return describeManifest(bytes, mediaType, digest);
}

/** Whether the brackets of a JSON text (outside strings) nest deeper than limit; no parse, no recursion. */
export function jsonDepthExceeds(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === 0x5c) i++; // backslash: skip the escaped byte
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > limit) return true;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return false;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

async function removeIfExists(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}
