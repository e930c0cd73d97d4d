// The OCI content descriptor (image-spec descriptor.md): what a manifest, an index or the referrers
// API says about a piece of content. Generated images, malformed images and the referrers list all
// write this one shape.

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  /** Only in an index's manifests list. */
  platform?: Platform;
  /** In the referrers API: the artifact's type (its artifactType, else its config's media type). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The platform an index entry runs on. */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}
