// The store directory, checked before a command starts work on it: created if missing, and proven
// writable by creating and removing a file, so a store the process cannot write is one line at start
// rather than a 500 on every push or a raw errno halfway through a seed or an import.
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CliError } from '../cli-error.js';

/** Makes sure dir is a directory this process can write, creating it if needed; throws a CliError. */
export async function checkStoreDir(dir: string): Promise<void> {
  const stat = await fs.stat(dir).catch((error: NodeJS.ErrnoException) => error);
  if (stat instanceof Error) {
    if (stat.code === 'ENOTDIR') throw new CliError(`store ${dir} cannot be created: ${await fileAncestor(dir)} is not a directory`);
    if (stat.code !== 'ENOENT') throw unusable(dir, 'cannot be used', stat);
    await fs.mkdir(dir, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
      throw unusable(dir, 'cannot be created', error);
    });
  } else if (!stat.isDirectory()) {
    throw new CliError(`store ${dir} is not a directory`);
  }
  const probe = path.join(dir, `.write-check-${randomBytes(6).toString('hex')}`);
  try {
    await fs.writeFile(probe, '', { flag: 'wx' });
  } catch (error) {
    throw unusable(dir, 'is not writable', error as NodeJS.ErrnoException);
  }
  await fs.rm(probe, { force: true });
  // The store writes below its first level too; a directory there owned by someone else fails every
  // write into it. access() rather than a probe file keeps the store's own directories clean.
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const sub = path.join(dir, entry.name);
    await fs.access(sub, fs.constants.W_OK | fs.constants.X_OK).catch((error: NodeJS.ErrnoException) => {
      throw unusable(dir, `is not writable (${sub})`, error);
    });
  }
}

const REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'the path is too long',
  ELOOP: 'too many symbolic links',
  EIO: 'input/output error',
};

function unusable(dir: string, what: string, error: NodeJS.ErrnoException): CliError {
  const reason = (error.code && REASONS[error.code]) ?? error.message;
  return new CliError(`store ${dir} ${what}: ${reason}`);
}

/** The nearest existing ancestor of dir, which is a file when mkdir says ENOTDIR. */
async function fileAncestor(dir: string): Promise<string> {
  for (let at = path.dirname(dir); at !== path.dirname(at); at = path.dirname(at)) {
    if (await fs.stat(at).then(() => true, () => false)) return at;
  }
  return path.parse(dir).root;
}
