import * as v from "valibot";
import { describe } from "../errors.ts";
import { raceTimeout } from "../time/clock.ts";
import type { CredentialRegistry } from "./registry.ts";
import { encodeJsonWithSecrets, parseJsonWithSecrets } from "../secret-json.ts";
import { Secret } from "../secret.ts";
import type { Token } from "../sources/source.ts";
import { tokenAccount, type SecretStore } from "../store/store.ts";
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
 *
 * At start it runs while the agent already serves (agent/core.ts): each credential waits for its
 * own entry (ManagedCredential.restore) and is served as soon as that entry is read, so the store's
 * opening (the keyring addon and D-Bus, or the file store's key derivation) is off the path of the
 * agent's start and of every request but those for the credentials being read. Bounded in time: a
 * keyring that hangs (a prompt nobody sees, a stuck bus) costs a fetch, not a request's whole wait.
 * Resolves, once every read has settled, to how many tokens were restored.
 */
export async function restoreTokens(
  store: SecretStore,
  registry: CredentialRegistry,
  now: number,
  log: Logger,
  options: {
    timeoutMs?: number;
    /**
     * The reads begin once this settles; the credentials wait for them from the call on. At start
     * the agent begins them once it listens: the store's opening (the keyring addon's load) is
     * then not paid before the socket answers.
     */
    after?: Promise<unknown>;
  } = {},
): Promise<number> {
  const { timeoutMs = RESTORE_TIMEOUT_MS, after } = options;
  // A source that is never cached (static values: they are in the store already) has no entry to read.
  const credentials = registry.list().filter((credential) => credential.source.persist !== false);
  const failures: unknown[] = [];
  const read = (name: string) =>
    after ? after.then(() => readCachedToken(store, name, timeoutMs)) : readCachedToken(store, name, timeoutMs);
  const restoring = credentials.map((credential) =>
    credential.restore(
      read(credential.name).then(
        (record) => usableToken(record, credential.name, registry, store, now, log),
        (err) => {
          failures.push(err);
          return null;
        },
      ),
    ),
  );
  const restored = (await Promise.all(restoring)).filter(Boolean).length;
  // A store that fails for every entry (locked, unreachable, silent) is one warning; an entry that
  // cannot be read (damaged) is left out.
  if (failures.length > 0 && failures.length === credentials.length) {
    log.warn("cannot read cached tokens; credentials will be fetched afresh", { error: describe(failures[0]) });
  }
  return restored;
}

interface CachedRecord {
  record: v.InferOutput<typeof cachedToken>;
  token: Uint8Array;
  sessionToken: Uint8Array | undefined;
  /** An oauth2 token's id_token (the metadata endpoint's ID tokens for the client id). */
  idToken: Uint8Array | undefined;
}

/** One credential's cache entry, parsed; null when there is none. The bytes as read are zeroed. */
async function readCachedToken(store: SecretStore, name: string, timeoutMs: number): Promise<CachedRecord | "malformed" | null> {
  const reading = store.get(tokenAccount(name));
  let value: Secret | null;
  try {
    value = await raceTimeout(reading, timeoutMs, () => new Error(`${store.description} did not answer within ${timeoutMs / 1000}s`));
  } catch (err) {
    // What arrives after the deadline is not used: zeroed as it comes.
    reading.then((late) => late?.wipe()).catch(() => {});
    throw err;
  }
  if (!value) return null;
  let tokenBytes: Uint8Array | undefined;
  let sessionBytes: Uint8Array | undefined;
  let idBytes: Uint8Array | undefined;
  try {
    const parsed = parseJsonWithSecrets(value.bytes(), ["token", "session_token", "id_token"]);
    tokenBytes = parsed.secrets.get("token");
    sessionBytes = parsed.secrets.get("session_token");
    idBytes = parsed.secrets.get("id_token");
    const record = v.parse(cachedToken, parsed.value);
    if (!tokenBytes || tokenBytes.byteLength === 0) throw new Error("no token");
    if (record.kind === "aws" && !record.aws_access_key_id) throw new Error("no key id");
    return { record, token: tokenBytes, sessionToken: sessionBytes, idToken: idBytes };
  } catch {
    tokenBytes?.fill(0);
    sessionBytes?.fill(0);
    idBytes?.fill(0);
    return "malformed";
  } finally {
    value.wipe();
  }
}

/** The cached token, when it is still valid and of the credential's definition as it is now; else null, its bytes zeroed. */
function usableToken(
  cached: CachedRecord | "malformed" | null,
  name: string,
  registry: CredentialRegistry,
  store: SecretStore,
  now: number,
  log: Logger,
): Token | null {
  if (cached === null) return null;
  if (cached === "malformed") {
    log.warn("ignoring a malformed cached token", { credential: name });
    return null;
  }
  const { record, token: tokenBytes, sessionToken: sessionBytes, idToken: idBytes } = cached;
  const drop = () => {
    tokenBytes.fill(0);
    sessionBytes?.fill(0);
    idBytes?.fill(0);
    return null;
  };
  if (record.expires_at <= now) {
    store.delete(tokenAccount(name)).catch(() => {});
    return drop();
  }
  if (registry.definition(name)?.fingerprint !== record.fingerprint) return drop();
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
  if (idBytes && idBytes.byteLength > 0) token.idToken = new Secret(idBytes);
  else idBytes?.fill(0);
  return token;
}
