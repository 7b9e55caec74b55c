import { CredagentError } from "../errors.ts";
import { JsonSyntaxError, parseJsonWithSecrets } from "../secret-json.ts";
import { Secret } from "../secret.ts";
import type { Token } from "./source.ts";

// What token-printing tools emit: a bare token, or JSON in the shapes of OAuth token responses
// (access_token, expires_in), Azure CLI (accessToken, expiresOn local time, expires_on epoch),
// and the like. A JWT's own `exp` is used when nothing else says.
const TOKEN_KEYS = ["access_token", "accessToken", "token"] as const;
const TYPE_KEYS = ["token_type", "tokenType"] as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The token in a tool's output. From bytes, the token itself never becomes a string (see
 * secret-json.ts); the caller wipes the output afterwards. A string is taken too (tests).
 */
export function parseTokenOutput(output: string | Uint8Array, now: number, defaultLifetimeMs: number): Token {
  const text = trimBytes(typeof output === "string" ? encoder.encode(output) : output);
  if (text.byteLength === 0) throw new CredagentError("source_failed", "the command printed nothing on stdout");
  if (text[0] === 0x7b) return parseJson(text, now, defaultLifetimeMs);
  if (!text.every((b) => b >= 0x21 && b <= 0x7e) || text[0] === 0x22 || text[0] === 0x5b) {
    throw new CredagentError(
      "source_failed",
      "the command printed neither a bare token (one word of printable ASCII) nor a JSON object",
    );
  }
  const value = new Secret(text.slice());
  return { value, tokenType: "Bearer", obtainedAt: now, expiresAt: jwtExpiry(value.bytes()) ?? now + defaultLifetimeMs };
}

function parseJson(text: Uint8Array, now: number, defaultLifetimeMs: number): Token {
  let parsed;
  try {
    parsed = parseJsonWithSecrets(text, TOKEN_KEYS);
  } catch (err) {
    // Never the parser's own message: it could quote the input, which may hold the token.
    throw new CredagentError(
      "source_failed",
      err instanceof JsonSyntaxError && err.message === "not a JSON object" ? "the command printed JSON that is not an object" : "the command printed malformed JSON on stdout",
    );
  }
  const obj = parsed.value;
  const key = TOKEN_KEYS.find((k) => (parsed.secrets.get(k)?.byteLength ?? 0) > 0);
  for (const [k, bytes] of parsed.secrets) if (k !== key) bytes.fill(0);
  if (!key) {
    throw new CredagentError(
      "source_failed",
      `the command's JSON has none of ${TOKEN_KEYS.join(", ")} as a non-empty string`,
    );
  }
  const value = new Secret(parsed.secrets.get(key)!);
  const typeKey = TYPE_KEYS.find((k) => typeof obj[k] === "string");
  // The earlier of the stated expiry and a JWT's own exp: a token is no better than its exp.
  const stated = jsonExpiry(obj, now);
  const exp = jwtExpiry(value.bytes());
  const expiresAt = stated !== undefined && exp !== undefined ? Math.min(stated, exp) : (stated ?? exp ?? now + defaultLifetimeMs);
  return { value, tokenType: typeKey ? (obj[typeKey] as string) : "Bearer", obtainedAt: now, expiresAt };
}

function trimBytes(b: Uint8Array): Uint8Array {
  const space = (c: number | undefined) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
  let start = 0;
  let end = b.byteLength;
  while (start < end && space(b[start])) start++;
  while (end > start && space(b[end - 1])) end--;
  return b.subarray(start, end);
}

function jsonExpiry(obj: Record<string, unknown>, now: number): number | undefined {
  const expiresIn = toNumber(obj.expires_in ?? obj.expiresIn);
  if (expiresIn !== undefined) return now + expiresIn * 1000;
  for (const key of ["expires_at", "expires_on", "expiresAt", "expiresOn"]) {
    const at = toInstant(obj[key]);
    if (at !== undefined) return at;
  }
  return undefined;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  return undefined;
}

/** Epoch seconds (number or digits), epoch milliseconds, RFC 3339, or az's "YYYY-MM-DD HH:MM:SS.ffffff" local time. */
function toInstant(v: unknown): number | undefined {
  const n = toNumber(v);
  if (n !== undefined) return n > 1e11 ? n : n * 1000;
  if (typeof v !== "string") return undefined;
  // az prints expiresOn in local time with microseconds and no zone; JS reads a zone-less
  // ISO date-time as local time, which is what az meant.
  const local = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?$/.exec(v.trim());
  const iso = local ? `${local[1]}T${local[2]}${(local[3] ?? "").slice(0, 4)}` : v;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/** A JWT's exp, read from its payload only: the signature (what makes it a credential) is never copied. */
export function jwtExpiry(value: string | Uint8Array): number | undefined {
  const bytes = typeof value === "string" ? encoder.encode(value) : value;
  const first = bytes.indexOf(0x2e);
  const second = first < 0 ? -1 : bytes.indexOf(0x2e, first + 1);
  if (first <= 0 || second < 0 || bytes.indexOf(0x2e, second + 1) >= 0) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(decoder.decode(bytes.subarray(first + 1, second)), "base64url").toString("utf8")) as { exp?: unknown };
    return typeof payload.exp === "number" ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
