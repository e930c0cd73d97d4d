// The one route parser: turns a method and a raw (undecoded) path into the operation asked for.
// Names may contain "/", so each pattern anchors on the suffix after the name; nothing is decoded,
// so "%2f" or "%2e%2e" can only ever reach the name grammar, which refuses them.

export type Operation =
  | 'base'
  | 'catalog'
  | 'tags.list'
  | 'manifest.get'
  | 'manifest.head'
  | 'manifest.put'
  | 'manifest.delete'
  | 'blob.get'
  | 'blob.head'
  | 'blob.delete'
  | 'upload.start'
  | 'upload.status'
  | 'upload.patch'
  | 'upload.finish'
  | 'upload.cancel'
  | 'referrers.list';

export interface Route {
  operation: Operation;
  /** The repository name, for every operation but base and catalog. */
  name: string;
  /** Tag or digest (manifests), digest (blobs, referrers), or upload id. */
  reference: string;
}

export type RouteMatch =
  | { kind: 'route'; route: Route }
  | { kind: 'method-not-allowed'; allowed: string[] }
  | { kind: 'not-found' };

type MethodTable = Partial<Record<string, Operation>>;

const PATTERNS: { pattern: RegExp; methods: MethodTable }[] = [
  { pattern: /^\/v2\/?$/, methods: { GET: 'base', HEAD: 'base' } },
  { pattern: /^\/v2\/_catalog$/, methods: { GET: 'catalog', HEAD: 'catalog' } },
  { pattern: /^\/v2\/(.+)\/tags\/list$/, methods: { GET: 'tags.list', HEAD: 'tags.list' } },
  {
    pattern: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    methods: { GET: 'manifest.get', HEAD: 'manifest.head', PUT: 'manifest.put', DELETE: 'manifest.delete' },
  },
  // The upload patterns come before the blob pattern: "/v2/x/blobs/uploads" is never a blob.
  { pattern: /^\/v2\/(.+)\/blobs\/uploads\/?$/, methods: { POST: 'upload.start' } },
  {
    pattern: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    methods: { GET: 'upload.status', PATCH: 'upload.patch', PUT: 'upload.finish', DELETE: 'upload.cancel' },
  },
  { pattern: /^\/v2\/(.+)\/blobs\/([^/]+)$/, methods: { GET: 'blob.get', HEAD: 'blob.head', DELETE: 'blob.delete' } },
  { pattern: /^\/v2\/(.+)\/referrers\/([^/]+)$/, methods: { GET: 'referrers.list', HEAD: 'referrers.list' } },
];

/** Every operation the routes answer, in table order: from the table itself, so no list drifts from it. */
export const OPERATIONS: readonly Operation[] = [...new Set(PATTERNS.flatMap(({ methods }) => Object.values(methods) as Operation[]))];

export function parseRoute(method: string, path: string): RouteMatch {
  for (const { pattern, methods } of PATTERNS) {
    const match = pattern.exec(path);
    if (!match) continue;
    const operation = methods[method];
    if (!operation) return { kind: 'method-not-allowed', allowed: Object.keys(methods) };
    return { kind: 'route', route: { operation, name: match[1] ?? '', reference: match[2] ?? '' } };
  }
  return { kind: 'not-found' };
}
