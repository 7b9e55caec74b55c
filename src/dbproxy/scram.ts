import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { CredagentError } from "../errors.ts";

// SCRAM-SHA-256 (RFC 5802, RFC 7677), the client side, as PostgreSQL uses it: the username in the
// messages is empty (the server takes the startup packet's user) and there is no channel binding
// ("n,,"). The password goes in as bytes and is not normalised with SASLprep: PostgreSQL itself
// falls back to the raw bytes when SASLprep fails, and the tokens credagent holds are ASCII.

const GS2_HEADER = "n,,";

export interface ScramExchange {
  clientFirst: string;
  /** The client-final message for the server-first; remembers the signature to check. */
  clientFinal(serverFirst: string): string;
  /** Throws unless the server proved it knows the password too. */
  verifyServerFinal(serverFinal: string): void;
}

/** `username` only for the RFC's test vector: PostgreSQL wants it empty. */
export function scramSha256(password: Uint8Array, nonce: string = randomBytes(18).toString("base64"), username = ""): ScramExchange {
  const clientFirstBare = `n=${username},r=${nonce}`;
  let expectedServerSignature: Buffer | undefined;
  return {
    clientFirst: GS2_HEADER + clientFirstBare,
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
      const finalWithoutProof = `c=${Buffer.from(GS2_HEADER).toString("base64")},r=${serverNonce}`;
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
