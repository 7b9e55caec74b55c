import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { CredagentError } from "../errors.ts";

// SCRAM-SHA-256 (RFC 5802, RFC 7677), the client side, as PostgreSQL uses it: the username in the
// messages is empty (the server takes the startup packet's user). With TLS and a server that
// offers SCRAM-SHA-256-PLUS, the exchange is bound to the TLS channel (RFC 5929
// tls-server-end-point: a hash of the server's certificate goes into the proof), so a middlebox
// that terminates TLS with a certificate of its own cannot relay the login: the server, hashing its
// own certificate, finds the proof wrong. Over TLS without -PLUS on offer the client says it could
// bind ("y,,"); without TLS, "n,,". The password goes in as bytes and is not normalised with
// SASLprep: PostgreSQL itself falls back to the raw bytes when SASLprep fails, and the tokens
// credagent holds are ASCII.

/** How the exchange is bound to the channel: the server certificate's hash, or why not. */
export type ChannelBinding =
  | { kind: "tls-server-end-point"; data: Uint8Array }
  /** Over TLS, but the server offered no -PLUS mechanism. */
  | { kind: "supported-not-offered" }
  | { kind: "none" };

export interface ScramExchange {
  clientFirst: string;
  /** The client-final message for the server-first; remembers the signature to check. */
  clientFinal(serverFirst: string): string;
  /** Throws unless the server proved it knows the password too. */
  verifyServerFinal(serverFinal: string): void;
}

/** `username` only for the RFC's test vector: PostgreSQL wants it empty. */
export function scramSha256(
  password: Uint8Array,
  nonce: string = randomBytes(18).toString("base64"),
  username = "",
  binding: ChannelBinding = { kind: "none" },
): ScramExchange {
  const gs2Header =
    binding.kind === "tls-server-end-point" ? "p=tls-server-end-point,," : binding.kind === "supported-not-offered" ? "y,," : "n,,";
  // c= is the GS2 header and, when bound, the binding data, base64: what the server checks.
  const channel = Buffer.concat([
    Buffer.from(gs2Header),
    binding.kind === "tls-server-end-point" ? binding.data : Buffer.alloc(0),
  ]).toString("base64");
  const clientFirstBare = `n=${username},r=${nonce}`;
  let expectedServerSignature: Buffer | undefined;
  return {
    clientFirst: gs2Header + clientFirstBare,
    clientFinal(serverFirst) {
      const fields = attributes(serverFirst);
      const serverNonce = fields.get("r");
      const salt = fields.get("s");
      const iterations = Number(fields.get("i"));
      if (!serverNonce || !serverNonce.startsWith(nonce) || serverNonce.length === nonce.length)
        throw bad("its nonce does not extend ours");
      if (!salt || !Number.isInteger(iterations) || iterations < 1) throw bad("no salt or iteration count");
      const salted = pbkdf2Sync(password, Buffer.from(salt, "base64"), iterations, 32, "sha256");
      const clientKey = hmac(salted, "Client Key");
      const storedKey = createHash("sha256").update(clientKey).digest();
      const finalWithoutProof = `c=${channel},r=${serverNonce}`;
      const authMessage = `${clientFirstBare},${serverFirst},${finalWithoutProof}`;
      const clientSignature = hmac(storedKey, authMessage);
      const proof = Buffer.alloc(clientKey.length);
      for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
      expectedServerSignature = hmac(hmac(salted, "Server Key"), authMessage);
      salted.fill(0);
      clientKey.fill(0);
      return `${finalWithoutProof},p=${proof.toString("base64")}`;
    },
    verifyServerFinal(serverFinal) {
      const fields = attributes(serverFinal);
      if (fields.has("e")) throw bad(`it reported ${fields.get("e")}`);
      const signature = Buffer.from(fields.get("v") ?? "", "base64");
      if (
        !expectedServerSignature ||
        signature.length !== expectedServerSignature.length ||
        !timingSafeEqual(signature, expectedServerSignature)
      ) {
        throw bad("its signature is wrong: it does not know the password (a server in the middle?)");
      }
    },
  };
}

function hmac(key: Uint8Array, text: string): Buffer {
  return createHmac("sha256", key).update(text).digest();
}

function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

function bad(what: string): CredagentError {
  return new CredagentError("upstream_auth", `the database server's SCRAM-SHA-256 exchange failed: ${what}`);
}
