// The store: content-addressed blobs, manifests kept byte-for-byte with their media type, tags and
// referrers, all on disk (see layout.ts) and written atomically.
import fs from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { RegistryError } from '../oci/errors.js';
import { parseDigest, type Algorithm, type Digest } from '../oci/digest.js';
import { StoreLayout } from './layout.js';
import { isMissing, moveIntoPlace, readTextIfExists, removeStaleTemps, tempPath, writeFileAtomic } from './atomic.js';
import { describeManifest, type Descriptor } from './manifest-facts.js';
import { FileMemo, statIfExists } from './file-memo.js';
import { FileHasher } from './file-hasher.js';

export interface BlobInfo {
  digest: Digest;
  size: number;
  path: string;
}

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
}

export class Store {
  readonly layout: StoreLayout;
  /** What pulls read again and again, checked against the files on every use (see file-memo.ts). */
  private readonly tagFiles = new FileMemo((bytes) => parseDigest(bytes.toString('utf8').trim()), { maxEntries: 10_000, maxBytes: 1 << 20 });
  private readonly revisionFiles = new FileMemo((bytes) => (JSON.parse(bytes.toString('utf8')) as { mediaType: string }).mediaType, {
    maxEntries: 10_000,
    maxBytes: 1 << 20,
  });
  private readonly manifestFiles = new FileMemo((bytes) => bytes, { maxEntries: 10_000, maxBytes: 64 << 20, contentAddressed: true });

  /** Hashes blobs as they are written, off the event loop. */
  readonly hasher = new FileHasher();

  private constructor(layout: StoreLayout) {
    this.layout = layout;
  }

  /** Opens (creating if needed) the store at root and removes temp files that crashed writers left. */
  static async open(root: string): Promise<Store> {
    const layout = new StoreLayout(root);
    for (const dir of [layout.root, layout.tmp(), layout.uploads(), layout.repositories()]) {
      await fs.mkdir(dir, { recursive: true });
    }
    await removeStaleTemps(layout);
    return new Store(layout);
  }

  /** Stops the hashing thread; the store is not to be used after. */
  async close(): Promise<void> {
    await this.hasher.close();
  }

  // ---- blobs ----

  async blobInfo(digest: Digest): Promise<BlobInfo | undefined> {
    const file = this.layout.blob(digest);
    const stat = statIfExists(file);
    return stat ? { digest, size: stat.size, path: file } : undefined;
  }

  /** The blob, when it is stored and belongs to the repository. */
  async repositoryBlob(name: string, digest: Digest): Promise<BlobInfo | undefined> {
    if (!statIfExists(this.layout.blobLink(name, digest))) return undefined;
    return this.blobInfo(digest);
  }

  /**
   * Streams source into the store as one blob, hashing on the way. With an expected digest the content
   * must match it (DIGEST_INVALID otherwise, nothing kept); without one, sha256 names it.
   */
  async ingestBlob(source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream, expected?: Digest): Promise<BlobInfo> {
    const algorithm: Algorithm = expected?.algorithm ?? 'sha256';
    const temp = tempPath(this.layout);
    try {
      const file = await fs.open(temp, 'wx');
      let received: { size: number; hex: string };
      try {
        received = await this.hasher.receive(source, file, temp, algorithm);
      } finally {
        await file.close();
      }
      const { size } = received;
      const digest = digestFromHash(algorithm, received.hex);
      if (expected && expected.text !== digest.text) {
        throw new RegistryError('DIGEST_INVALID', `content digest ${digest.text} does not match ${expected.text}`, {
          detail: { expected: expected.text, actual: digest.text },
        });
      }
      return await this.adoptFile(temp, digest, size);
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  /** Moves an already verified file into the blob store (or drops it when the blob is there). */
  async adoptFile(file: string, digest: Digest, size: number): Promise<BlobInfo> {
    const target = this.layout.blob(digest);
    if (await exists(target)) {
      await fs.rm(file, { force: true });
    } else {
      await moveIntoPlace(file, target);
    }
    return { digest, size, path: target };
  }

  async putBlobBytes(bytes: Buffer, algorithm: Algorithm = 'sha256'): Promise<BlobInfo> {
    const digest = digestFromHash(algorithm, createHash(algorithm).update(bytes).digest('hex'));
    const target = this.layout.blob(digest);
    if (!(await exists(target))) await writeFileAtomic(this.layout, target, bytes);
    return { digest, size: bytes.length, path: target };
  }

  async linkBlob(name: string, digest: Digest): Promise<void> {
    const link = this.layout.blobLink(name, digest);
    if (await exists(link)) return;
    await writeFileAtomic(this.layout, link, '');
  }

  /** Removes the blob from the repository; the content stays for other repositories. */
  async unlinkBlob(name: string, digest: Digest): Promise<boolean> {
    return removeIfExists(this.layout.blobLink(name, digest));
  }

  // ---- manifests and tags ----

  /**
   * Stores a manifest exactly as sent, under its digest and optionally a tag. The bytes are never
   * re-encoded; their content is only read to index a subject for the referrers API.
   */
  async putManifest(name: string, bytes: Buffer, mediaType: string, options: { tag?: string; expected?: Digest } = {}) {
    const algorithm = options.expected?.algorithm ?? 'sha256';
    const actual = digestFromHash(algorithm, createHash(algorithm).update(bytes).digest('hex'));
    // Checked before anything is written: a refused manifest leaves no blob behind.
    if (options.expected && options.expected.text !== actual.text) {
      throw new RegistryError('DIGEST_INVALID', `manifest digest ${actual.text} does not match ${options.expected.text}`, {
        detail: { expected: options.expected.text, actual: actual.text },
      });
    }
    const blob = await this.putBlobBytes(bytes, algorithm);
    const facts = describeManifest(bytes, mediaType, blob.digest.text);
    await writeFileAtomic(this.layout, this.layout.manifestRevision(name, blob.digest), JSON.stringify({ mediaType }));
    if (facts.subject) {
      const file = this.layout.referrer(name, facts.subject, blob.digest);
      await writeFileAtomic(this.layout, file, JSON.stringify(facts.descriptor));
    }
    if (options.tag) await writeFileAtomic(this.layout, this.layout.tag(name, options.tag), blob.digest.text);
    return { digest: blob.digest, subject: facts.subject };
  }

  async resolveTag(name: string, tag: string): Promise<Digest | undefined> {
    return this.tagFiles.read(this.layout.tag(name, tag));
  }

  /** A manifest of the repository by tag or digest. Its bytes are shared: never change them. */
  async getManifest(name: string, reference: string | Digest): Promise<StoredManifest | undefined> {
    const digest = typeof reference === 'string' ? await this.resolveTag(name, reference) : reference;
    if (!digest) return undefined;
    const mediaType = await this.revisionFiles.read(this.layout.manifestRevision(name, digest));
    if (mediaType === undefined) return undefined;
    const bytes = await this.manifestFiles.read(this.layout.blob(digest));
    return bytes && { digest, mediaType, bytes };
  }

  /** Deletes a manifest revision, every tag pointing at it, and its referrer entry. */
  async deleteManifest(name: string, digest: Digest): Promise<boolean> {
    const manifest = await this.getManifest(name, digest);
    if (!manifest) return false;
    for (const tag of (await this.listTags(name)) ?? []) {
      if ((await this.resolveTag(name, tag))?.text === digest.text) await removeIfExists(this.layout.tag(name, tag));
    }
    const { subject } = describeManifest(manifest.bytes, manifest.mediaType, digest.text);
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
    const own = await fs.readdir(this.layout.repository(name)).catch((error) => {
      if (isMissing(error)) return [] as string[];
      throw error;
    });
    if (!own.some((entry) => entry.startsWith('_'))) return undefined;
    const tags = await fs.readdir(this.layout.tags(name)).catch((error) => {
      if (isMissing(error)) return [] as string[];
      throw error;
    });
    return tags.sort();
  }

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

  /** Descriptors of the manifests in the repository whose subject is the given digest. */
  async referrers(name: string, subject: Digest): Promise<Descriptor[]> {
    const dir = this.layout.referrers(name, subject);
    const entries = await fs.readdir(dir).catch((error) => {
      if (isMissing(error)) return [] as string[];
      throw error;
    });
    const descriptors: Descriptor[] = [];
    for (const entry of entries.sort()) {
      const text = await readTextIfExists(`${dir}/${entry}`);
      if (text !== undefined) descriptors.push(JSON.parse(text) as Descriptor);
    }
    return descriptors;
  }
}

export function digestFromHash(algorithm: Algorithm, hex: string): Digest {
  return { algorithm, hex, text: `${algorithm}:${hex}` };
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
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
