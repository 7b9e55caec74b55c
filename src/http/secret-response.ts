import type { Secret } from "../secret.ts";
import { encodeJsonWithSecrets, type JsonFields } from "../secret-json.ts";

// Answers whose body is a secret (a token, a key): the bytes are kept here, never handed to the
// runtime's Response (which copies a body it is given, and frees that copy unzeroed: found after a
// lock by the memory test). The server (server.ts through response.ts) writes them from this
// buffer and zeroes it; read as a Response (app.request in tests), text() and json() give copies.

export class SecretBodyResponse extends Response {
  readonly secretBody: Uint8Array;

  constructor(body: Uint8Array, init: ResponseInit) {
    super(null, init);
    this.secretBody = body;
    // Read as a Response (app.request in tests): copies of the bytes. Defined on the instance: the
    // runtime's types declare these readonly properties, not methods to override.
    const copy = () => this.secretBody.slice();
    Object.defineProperties(this, {
      arrayBuffer: { value: async () => copy().buffer },
      bytes: { value: async () => copy() },
      text: { value: async () => new TextDecoder().decode(this.secretBody) },
      json: { value: async () => JSON.parse(new TextDecoder().decode(this.secretBody)) },
    });
  }
}

/** A 200 answer whose JSON body holds secrets, written from their bytes, never cached (no-store). */
export function secretJsonResponse(fields: JsonFields, headers: Record<string, string> = {}): Response {
  return new SecretBodyResponse(encodeJsonWithSecrets(fields), {
    status: 200,
    headers: { "Content-Type": "application/json", "Cache-Control": "no-store", ...headers },
  });
}

/** A 200 answer whose whole body is one secret (an ID token), copied from its bytes; as secretJsonResponse otherwise. */
export function secretTextResponse(secret: Secret, headers: Record<string, string> = {}): Response {
  return new SecretBodyResponse(Uint8Array.from(secret.bytes()), {
    status: 200,
    headers: { "Content-Type": "text/plain", "Cache-Control": "no-store", ...headers },
  });
}
