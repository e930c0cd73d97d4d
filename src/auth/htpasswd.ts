// Users from an htpasswd file, bcrypt entries only (`htpasswd -B`: `$2y$`, also `$2a$`/`$2b$`), read
// once at start. bcryptjs does the comparison: bcrypt is not in node:crypto, and a plain-JS, no-build,
// well-kept implementation beats a hand-written one (a native addon would need a compiler at install).
import bcrypt from 'bcryptjs';
import crypto from 'node:crypto';

export interface Credentials {
  username: string;
  password: string;
}

export interface UserCheck {
  /** True when the password is right for the user. */
  verify(credentials: Credentials): Promise<boolean>;
}

const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

/** The users of an htpasswd file's text; throws with a one-line reason naming the line. */
export function parseHtpasswd(text: string): Map<string, string> {
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1).trim();
    if (colon <= 0) throw new Error(`line ${index + 1}: not "user:hash"`);
    if (!BCRYPT.test(hash)) throw new Error(`line ${index + 1}: the entry for "${user}" is not bcrypt (write it with htpasswd -B)`);
    users.set(user, hash);
  });
  if (users.size === 0) throw new Error('no users in the file');
  return users;
}

/**
 * Checks passwords against bcrypt hashes. bcrypt is slow on purpose (tens of ms at htpasswd's default
 * cost), and Basic auth sends the password on every request, so a right answer is remembered, keyed
 * by a salted SHA-256 of user and password (never the password itself), for as long as the server runs.
 */
export function htpasswdUsers(users: ReadonlyMap<string, string>): UserCheck {
  const salt = crypto.randomBytes(16);
  const known = new Set<string>();
  return {
    async verify({ username, password }) {
      const hash = users.get(username);
      if (hash === undefined) return false;
      const key = crypto.createHash('sha256').update(salt).update(username).update('\0').update(password).digest('base64');
      if (known.has(key)) return true;
      const ok = await bcrypt.compare(password, hash);
      if (ok) known.add(key);
      return ok;
    },
  };
}

/** The one fixed user of broken/auth, documented for tests: `broken` / `broken`. */
export function fixedUser(username: string, password: string): UserCheck {
  return {
    async verify(credentials) {
      return credentials.username === username && credentials.password === password;
    },
  };
}

/** The credentials of an `Authorization: Basic ...` header, or undefined. */
export function basicCredentials(header: string | undefined): Credentials | undefined {
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
