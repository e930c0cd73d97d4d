// broken/malformed: a named corpus of small deterministic images, each with one defect.
export { MALFORMED_KINDS, MALFORMED_KIND_NAMES, MALFORMED_REPOSITORY, findKind, type MalformedKind } from './kinds.js';
export { createMalformedCorpus, type MalformedCorpus } from './corpus.js';
export type { MalformedImage, MalformedManifest, ServedBlob } from './image.js';
