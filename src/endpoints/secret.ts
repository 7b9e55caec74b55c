import { randomBytes, timingSafeEqual } from "node:crypto";
import { Secret } from "../secret.ts";

/**
 * The secret a program shows the loopback endpoints (Azure's X-IDENTITY-HEADER, the AWS container
 * endpoint's Authorization): other local users can connect to 127.0.0.1, so knowing this value is
 * what lets a request in. New at each start; it lives in the agent and in a 0600 file beside the
 * socket, never in argv or the log.
 */
export class EndpointSecret {
  readonly value: Secret;

  constructor(bytes: Uint8Array = randomBytes(32)) {
    this.value = new Secret(Buffer.from(Buffer.from(bytes).toString("hex")));
  }

  /** Constant time in the value's length (which is fixed and public). */
  matches(given: string | undefined): boolean {
    if (given === undefined) return false;
    const expected = this.value.bytes();
    const bytes = Buffer.from(given);
    return bytes.length === expected.length && timingSafeEqual(bytes, expected);
  }
}
