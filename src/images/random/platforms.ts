// The platforms of `platforms-N`: the first N of a fixed list, in this order, never reordered (each
// platform's layers and config, and so every index digest, depend on it).

export interface RandomPlatform {
  /** `os/architecture[/variant]`, as docker and buildx write platforms. */
  name: string;
  os: string;
  architecture: string;
  variant?: string;
}

export const RANDOM_PLATFORMS: readonly RandomPlatform[] = [
  { name: 'linux/amd64', os: 'linux', architecture: 'amd64' },
  { name: 'linux/arm64', os: 'linux', architecture: 'arm64' },
  { name: 'linux/arm/v7', os: 'linux', architecture: 'arm', variant: 'v7' },
  { name: 'linux/ppc64le', os: 'linux', architecture: 'ppc64le' },
  { name: 'linux/s390x', os: 'linux', architecture: 's390x' },
  { name: 'linux/386', os: 'linux', architecture: '386' },
  { name: 'linux/riscv64', os: 'linux', architecture: 'riscv64' },
  { name: 'windows/amd64', os: 'windows', architecture: 'amd64' },
];

/** The platform of an image without an index, and of the first image of every index. */
export const DEFAULT_PLATFORM = RANDOM_PLATFORMS[0] as RandomPlatform;

/** The platform of buildx's attestation manifests: no runtime picks it. */
export const ATTESTATION_PLATFORM = { os: 'unknown', architecture: 'unknown' } as const;
