// Docker image manifest v2, schema 1: the format before schema 2, unsigned (`+json`) or signed with a
// libtrust JSON web signature embedded in the manifest (`+prettyjws`).
//
// A signed schema1 manifest is the payload (pretty JSON, three-space indent) with a "signatures"
// member spliced in before its closing brace. Each signature's protected header records where the
// payload's formatting ends (formatLength) and what followed (formatTail), so a verifier can cut the
// signatures out again; the manifest digest is that of the payload, as CNCF distribution computes it.
// The signature is RS256 (RSASSA-PKCS1-v1_5 over SHA-256), which is deterministic: the same payload
// always gives the same bytes. The key's public half is here; the signature was computed once with
// its private half, which was then thrown away (test/malformed-image.test.ts verifies it).
import { digestBytes } from '../../oci/digest.js';
import { KIND_LABEL, type Layer } from './image.js';

const EPOCH = '1970-01-01T00:00:00Z';
const INDENT = '   ';

/** The unsigned payload of a one-layer schema1 manifest for linux/amd64. */
export function schema1Payload(name: string, tag: string, layer: Layer, layerDigest: string): Buffer {
  const id = digestBytes(`broken-reg schema1 ${tag} ${layer.diffId}`).hex;
  const v1Compatibility = JSON.stringify({
    id,
    created: EPOCH,
    architecture: 'amd64',
    os: 'linux',
    config: { Labels: { [KIND_LABEL]: tag } },
    container_config: {},
  });
  const manifest = {
    schemaVersion: 1,
    name,
    tag,
    architecture: 'amd64',
    fsLayers: [{ blobSum: layerDigest }],
    history: [{ v1Compatibility }],
  };
  return Buffer.from(JSON.stringify(manifest, null, INDENT.length));
}

/** The protected header of the one signature: where the payload's formatting ends, base64url JSON. */
export function protectedHeader(payload: Buffer): string {
  const close = lastNonSpace(payload, payload.length);
  if (payload[close] !== 0x7d) throw new Error('schema1 payload must end with }');
  const formatLength = lastNonSpace(payload, close) + 1;
  const formatTail = base64url(payload.subarray(formatLength));
  return base64url(Buffer.from(JSON.stringify({ formatLength, formatTail, time: EPOCH })));
}

/** What the signature signs: `<protected>.<base64url payload>`. */
export function signingInput(payload: Buffer): Buffer {
  return Buffer.from(`${protectedHeader(payload)}.${base64url(payload)}`);
}

export interface RsaJwk {
  kty: 'RSA';
  /** libtrust's key ID: the SHA-256 of the DER public key, 240 bits in base32, in groups of four. */
  kid: string;
  n: string;
  e: string;
}

/** The payload with its signature spliced in, as libtrust's PrettySignature writes it. */
export function prettySigned(payload: Buffer, jwk: RsaJwk, signature: string): Buffer {
  const formatLength = lastNonSpace(payload, lastNonSpace(payload, payload.length)) + 1;
  const signatures = [{ header: { jwk, alg: 'RS256' }, signature, protected: protectedHeader(payload) }];
  const block = JSON.stringify(signatures, null, INDENT.length).replaceAll('\n', `\n${INDENT}`);
  return Buffer.concat([payload.subarray(0, formatLength), Buffer.from(`,\n${INDENT}"signatures": ${block}\n}`)]);
}

/** The public half of the key that signed SCHEMA1_SIGNATURE. */
export const SCHEMA1_JWK: RsaJwk = {
  kty: 'RSA',
  kid: 'HKF2:5T6V:RTZU:YLZL:TDG4:CB66:LIND:4HDV:FL7C:4VNT:2ROP:24ZS',
  n:
    'oip_pJJ9dZAq6JaEvYtvESVFtopjK4Gdmbyc5HpKPYAO_nlg3sMep0mYj1GvSJMnFtIZ_lkYkzTVmBx2MYVc5gyjUmEx4rMX' +
    'u3zQk6BVGu12rjXxH49snvYMUHcfq8ntc165zAGtoQyRbDONMnRlWxFwPbwPtZIyr01rINwlFWbTNjcD-3qmRhYn2pfAH9WY' +
    'LxoYyspe21I7_NJ7OAm64RV4wp3hIR9B89nioMQZUnpX7B18AbDHDp6GCT7UySVd5hZbCjkPapLaJa8Wm938jl1FPSmx8md-' +
    '7nWNxxjzfArTcmNwmbptZ6WSGwRA0ErdpmSNtKK1_rpXUnMj8ffrUw',
  e: 'AQAB',
};

/** RS256 over signingInput(the schema1-signed payload), base64url. */
export const SCHEMA1_SIGNATURE =
  'Cbriu-8JRsvK6ZxyUgwplZ2nu0fTD2Eos_Unz9ov46W9rG1FelEatNCo1sd9qfo3lnKsVOXV4DtUWuhD6zmtAeq90M9AxPxD' +
  'hEYWv87qofGDtQcuo08qRYPli4-cINFVLKxVRaC50fxMJKG80BJHkaKeq9fTFJ3aVx8UUjVjCIK4Mly6a7BQXp7-ployU9Yk' +
  '7RWz5zePD21T_oQFOzZt1ecPkFN758LYcehbk1MoORLzIKRDeJA18PaH4hqDHxyVQ7Wek8Ic-wYUGtjC81i9X7rc3GCYYztY' +
  '28-JOjvhJR3DSqhqjWFE8NWOBsqZ8DM6bntAsuDDehcgPqiFrKZPqg';

export function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** The index of the last byte before `end` that is not JSON whitespace. */
function lastNonSpace(bytes: Buffer, end: number): number {
  let i = end - 1;
  while (i >= 0 && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i--;
  return i;
}
