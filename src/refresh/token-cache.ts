import * as v from "valibot";
import { describe } from "../errors.ts";
import { raceTimeout } from "../time/clock.ts";
import type { CredentialRegistry } from "./registry.ts";
import { encodeJsonWithSecrets, parseJsonWithSecrets } from "../secret-json.ts";
import { Secret } from "../secret.ts";
import type { Token } from "../sources/source.ts";
import { credentialOf, tokenAccount, type SecretStore } from "../store/store.ts";
import type { Logger } from "../log/log.ts";

// Tokens are cached in the store so that a restart or a crash costs no round trip to the
// identity provider. Written after the response (never on the request path); read once at start.

// The token itself is read and written as bytes (secret-json.ts), never as a string.
const cachedToken = v.object({
  v: v.literal(1),
  token_type: v.string(),
  obtained_at: v.number(),
  expires_at: v.number(),
  /** The credential's definition when the token was obtained: a changed definition starts afresh. */
  fingerprint: v.string(),
  // Multi-part credentials (absent from entries written before them: a bearer token).
  kind: v.optional(v.picklist(["bearer", "password", "aws"])),
  username: v.optional(v.string()),
  aws_access_key_id: v.optional(v.string()),
});

export function persistToken(store: SecretStore, name: string, fingerprint: string, token: Token, log: Logger): void {
  const record = new Secret(
    encodeJsonWithSecrets({
      v: 1,
      token: token.value,
      token_type: token.tokenType,
      obtained_at: token.obtainedAt,
      expires_at: token.expiresAt,
      fingerprint,
      kind: token.kind,
      username: token.username,
      aws_access_key_id: token.aws?.accessKeyId,
      session_token: token.aws?.sessionToken,
      id_token: token.idToken,
    }),
  );
  setImmediate(() => {
    store
      .set(tokenAccount(name), record)
      .catch((err) => {
        log.warn("could not cache the token in the store", { credential: name, error: describe(err) });
      })
      .finally(() => record.wipe());
  });
}

const RESTORE_TIMEOUT_MS = 3_000;

/**
 * Seeds the registry with the still-valid cached tokens of unchanged credentials; removes expired
 * ones. Reads the token entry of each configured credential, and nothing else: listing the store
 * would read every secret in it (in the OS keyring's library, as strings that cannot be zeroed).
 * Bounded in time: it runs before the agent listens, and a keyring that hangs (a prompt nobody
 * sees, a stuck bus) must cost a fetch, not the agent's start.
 */
export async function restoreTokens(
  store: SecretStore,
  registry: CredentialRegistry,
  now: number,
  log: Logger,
  timeoutMs = RESTORE_TIMEOUT_MS,
): Promise<number> {
  let entries: Map<string, Secret>;
  const reading = readTokenEntries(
    store,
    registry.list().map((c) => c.name),
  );
  try {
    entries = await raceTimeout(reading, timeoutMs, () => new Error(`${store.description} did not answer within ${timeoutMs / 1000}s`));
  } catch (err) {
    // What arrives after the deadline is not used: zeroed as it comes.
    reading.then((m) => m.forEach((value) => value.wipe())).catch(() => {});
    log.warn("cannot read cached tokens; credentials will be fetched afresh", { error: describe(err) });
    return 0;
  }
  let restored = 0;
  for (const [account, value] of entries) {
    const name = credentialOf(account, "token");
    if (name === null) {
      value.wipe();
      continue;
    }
    let record: v.InferOutput<typeof cachedToken>;
    let tokenBytes: Uint8Array | undefined;
    let sessionBytes: Uint8Array | undefined;
    let idBytes: Uint8Array | undefined;
    try {
      const parsed = parseJsonWithSecrets(value.bytes(), ["token", "session_token", "id_token"]);
      tokenBytes = parsed.secrets.get("token");
      sessionBytes = parsed.secrets.get("session_token");
      idBytes = parsed.secrets.get("id_token");
      record = v.parse(cachedToken, parsed.value);
      if (!tokenBytes || tokenBytes.byteLength === 0) throw new Error("no token");
      if (record.kind === "aws" && !record.aws_access_key_id) throw new Error("no key id");
    } catch {
      tokenBytes?.fill(0);
      sessionBytes?.fill(0);
      idBytes?.fill(0);
      log.warn("ignoring a malformed cached token", { credential: name });
      continue;
    } finally {
      value.wipe();
    }
    if (record.expires_at <= now) {
      tokenBytes.fill(0);
      sessionBytes?.fill(0);
      idBytes?.fill(0);
      store.delete(account).catch(() => {});
      continue;
    }
    const def = registry.definition(name);
    if (!def || def.fingerprint !== record.fingerprint) {
      tokenBytes.fill(0);
      sessionBytes?.fill(0);
      idBytes?.fill(0);
      continue;
    }
    const token: Token = {
      value: new Secret(tokenBytes),
      tokenType: record.token_type,
      obtainedAt: record.obtained_at,
      expiresAt: record.expires_at,
    };
    if (record.kind) token.kind = record.kind;
    if (record.username !== undefined) token.username = record.username;
    if (record.kind === "aws")
      token.aws = { accessKeyId: record.aws_access_key_id!, ...(sessionBytes ? { sessionToken: new Secret(sessionBytes) } : {}) };
    else sessionBytes?.fill(0);
    // An oauth2 token's id_token (the metadata endpoint's ID tokens for the client id).
    if (idBytes && idBytes.byteLength > 0) token.idToken = new Secret(idBytes);
    registry.get(name).seed(token);
    restored += 1;
  }
  return restored;
}

/**
 * The token entries of these credentials, read at once. A store that fails for all of them (locked,
 * unreachable) fails the whole read; one entry that cannot be read (damaged) is left out.
 */
async function readTokenEntries(store: SecretStore, names: string[]): Promise<Map<string, Secret>> {
  const reads = await Promise.allSettled(names.map((name) => store.get(tokenAccount(name))));
  const entries = new Map<string, Secret>();
  reads.forEach((read, i) => {
    if (read.status === "fulfilled" && read.value) entries.set(tokenAccount(names[i]!), read.value);
  });
  const failed = reads.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed && entries.size === 0 && reads.every((r) => r.status === "rejected")) throw failed.reason;
  return entries;
}
