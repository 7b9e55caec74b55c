import { createHash } from "node:crypto";
import { CredagentError } from "../errors.ts";

// RFC 5929 tls-server-end-point: the hash of the server's certificate (DER), with the hash of the
// certificate's own signature algorithm, SHA-256 where that is MD5 or SHA-1. What libpq computes
// (be_tls_get_certificate_hash / pgtls_get_peer_certificate_hash); like libpq, a certificate
// whose signature names no single hash (RSASSA-PSS, Ed25519) gives none.

/** Signature algorithm OIDs (DER content, hex) and the hash channel binding uses for each. */
const HASH_OF_SIGNATURE: Record<string, string> = {
  "2a864886f70d010104": "sha256", // md5WithRSAEncryption
  "2a864886f70d010105": "sha256", // sha1WithRSAEncryption
  "2a864886f70d01010e": "sha224", // sha224WithRSAEncryption
  "2a864886f70d01010b": "sha256", // sha256WithRSAEncryption
  "2a864886f70d01010c": "sha384", // sha384WithRSAEncryption
  "2a864886f70d01010d": "sha512", // sha512WithRSAEncryption
  "2a8648ce3d0401": "sha256", // ecdsa-with-SHA1
  "2a8648ce3d040301": "sha224", // ecdsa-with-SHA224
  "2a8648ce3d040302": "sha256", // ecdsa-with-SHA256
  "2a8648ce3d040303": "sha384", // ecdsa-with-SHA384
  "2a8648ce3d040304": "sha512", // ecdsa-with-SHA512
  "2a8648ce380403": "sha256", // dsa-with-sha1
  "608648016503040302": "sha256", // dsa-with-sha256
};

/** One DER element at `at`: its tag, where its content starts, and where it ends. */
function element(der: Uint8Array, at: number): { tag: number; start: number; end: number } {
  const tag = der[at];
  let length = der[at + 1];
  if (tag === undefined || length === undefined) throw new Error("truncated");
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes < 1 || bytes > 4) throw new Error("bad length");
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  if (start + length > der.length) throw new Error("truncated");
  return { tag, start, end: start + length };
}

/** The hash name for a certificate's signature algorithm, or null when it has none of its own. */
export function bindingHash(der: Uint8Array): string | null {
  try {
    // Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE { OID, ... }, signature }
    const certificate = element(der, 0);
    const tbs = element(der, certificate.start);
    const algorithm = element(der, tbs.end);
    const oid = element(der, algorithm.start);
    if (certificate.tag !== 0x30 || tbs.tag !== 0x30 || algorithm.tag !== 0x30 || oid.tag !== 0x06) return null;
    return HASH_OF_SIGNATURE[Buffer.from(der.subarray(oid.start, oid.end)).toString("hex")] ?? null;
  } catch {
    return null;
  }
}

export function tlsServerEndPoint(der: Uint8Array): Uint8Array {
  const hash = bindingHash(der);
  if (!hash)
    throw new CredagentError(
      "upstream_auth",
      "the database server's certificate is signed with an algorithm that names no hash for channel binding (RSASSA-PSS, Ed25519); libpq cannot bind to it either",
    );
  return createHash(hash).update(der).digest();
}
