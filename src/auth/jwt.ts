// Compact JWS (RFC 7515) signed and verified with node:crypto: the access and refresh tokens this
// registry's token services issue. The algorithm follows the key (ES256 for P-256, RS256 for RSA,
// EdDSA for Ed25519) and a token is only accepted with the algorithm of the key that checks it, so a
// token cannot pick its own ("none", or HMAC with the public key).
import crypto, { type KeyObject } from 'node:crypto';

export type Algorithm = 'ES256' | 'RS256' | 'EdDSA';

export interface SigningKey {
  algorithm: Algorithm;
  /** A short id of the public key, in every token's header (`kid`). */
  id: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** A fresh P-256 key, for a server started without --token-key: tokens then die with the process. */
export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return signingKey(privateKey, publicKey);
}

/** The key in a PEM file's text; throws with a one-line reason when it is not a usable private key. */
export function parseSigningKey(pem: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = crypto.createPrivateKey(pem);
  } catch {
    throw new Error('not a PEM private key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 writes one)');
  }
  return signingKey(privateKey, crypto.createPublicKey(privateKey));
}

function signingKey(privateKey: KeyObject, publicKey: KeyObject): SigningKey {
  const algorithm = algorithmOf(privateKey);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const id = crypto.createHash('sha256').update(der).digest('base64url').slice(0, 16);
  return { algorithm, id, privateKey, publicKey };
}

function algorithmOf(key: KeyObject): Algorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`a ${key.asymmetricKeyType ?? 'unknown'} key cannot sign tokens: use an EC P-256, RSA or Ed25519 key`);
}

export function signJwt(key: SigningKey, claims: object): string {
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: key.algorithm, kid: key.id }));
  const input = `${header}.${base64url(JSON.stringify(claims))}`;
  const signature = crypto.sign(digestOf(key.algorithm), Buffer.from(input), dsaOptions(key.algorithm, key.privateKey));
  return `${input}.${signature.toString('base64url')}`;
}

/**
 * The claims of a token whose signature this key made, or undefined for anything else (another key,
 * another algorithm, a changed byte, not a JWT at all). Times are not checked here: see tokens.ts.
 */
export function verifyJwt(key: SigningKey, token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  const head = parseJson(header);
  if (!head || head.alg !== key.algorithm) return undefined;
  const valid = crypto.verify(
    digestOf(key.algorithm),
    Buffer.from(`${header}.${payload}`),
    dsaOptions(key.algorithm, key.publicKey),
    Buffer.from(signature, 'base64url'),
  );
  return valid ? parseJson(payload) : undefined;
}

function digestOf(algorithm: Algorithm): string | null {
  return algorithm === 'EdDSA' ? null : 'sha256';
}

/** ES256 signatures are the raw r||s pair in JWS, not DER. */
function dsaOptions(algorithm: Algorithm, key: KeyObject): KeyObject | crypto.SignKeyObjectInput | crypto.VerifyKeyObjectInput {
  return algorithm === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key;
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

function parseJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
