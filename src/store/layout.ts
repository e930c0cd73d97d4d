// The on-disk layout of a store, drawn once, and the one function family that builds its paths.
//
//   <root>/
//     blobs/<alg>/<hh>/<hex>                      content, stored once: layers, configs and manifests alike
//     repositories/<name>/_manifests/<alg>/<hex>  a manifest revision of this repository: {"mediaType": ...}
//     repositories/<name>/_tags/<tag>             the digest the tag points at
//     repositories/<name>/_layers/<alg>/<hex>     empty: the blob belongs to this repository
//     repositories/<name>/_referrers/<alg>/<subject-hex>/<alg>-<hex>
//                                                 the descriptor of a manifest whose subject is that digest
//     repositories/<name>/_meta.json              optional facts about the repository (e.g. its upstream)
//     uploads/<uuid>/data                         bytes of an upload in progress
//     uploads/<uuid>/info.json                    {"repository": ..., "startedAt": ...}
//     tmp/<pid>-<start>-<random>                  writes in progress, renamed into place when complete;
//                                                 removed at open once their process is gone
//
// Repository name components never start with "_" (OCI grammar), so the "_" entries cannot clash with a
// nested repository. Every path is checked to stay below the root before it is used.
import path from 'node:path';
import type { Digest } from '../oci/digest.js';

export class StoreLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  blob(digest: Digest): string {
    return this.inside('blobs', digest.algorithm, digest.hex.slice(0, 2), digest.hex);
  }

  repositories(): string {
    return this.inside('repositories');
  }

  repository(name: string): string {
    return this.inside('repositories', ...name.split('/'));
  }

  manifestRevision(name: string, digest: Digest): string {
    return this.within(this.repository(name), '_manifests', digest.algorithm, digest.hex);
  }

  tags(name: string): string {
    return this.within(this.repository(name), '_tags');
  }

  tag(name: string, tag: string): string {
    return this.within(this.repository(name), '_tags', tag);
  }

  blobLink(name: string, digest: Digest): string {
    return this.within(this.repository(name), '_layers', digest.algorithm, digest.hex);
  }

  referrers(name: string, subject: Digest): string {
    return this.within(this.repository(name), '_referrers', subject.algorithm, subject.hex);
  }

  referrer(name: string, subject: Digest, referrer: Digest): string {
    return this.within(this.referrers(name, subject), `${referrer.algorithm}-${referrer.hex}`);
  }

  repositoryMeta(name: string): string {
    return this.within(this.repository(name), '_meta.json');
  }

  uploads(): string {
    return this.inside('uploads');
  }

  upload(uuid: string): string {
    return this.inside('uploads', uuid);
  }

  tmp(): string {
    return this.inside('tmp');
  }

  private inside(...parts: string[]): string {
    return this.within(this.root, ...parts);
  }

  /**
   * Joins parts under base and refuses any result that is not strictly inside the root. base is always
   * absolute (the root, or a path built here), so join gives an absolute, normalised path; unlike
   * resolve it never lets an absolute part replace base, and it does not ask for the working directory.
   */
  private within(base: string, ...parts: string[]): string {
    const full = path.join(base, ...parts);
    if (full !== this.root && !full.startsWith(this.root + path.sep)) {
      throw new Error(`path escapes the store: ${parts.join('/')}`);
    }
    return full;
  }
}
