import { CredagentError } from "../errors.ts";
import { JsonSyntaxError, parseJsonWithSecrets } from "../secret-json.ts";
import { Secret } from "../secret.ts";
import type { Token } from "./source.ts";

// What token-printing tools emit: a bare token, or JSON in the shapes of OAuth token responses
// (access_token, expires_in), Azure CLI (accessToken, expiresOn local time, expires_on epoch),
// and the like. A JWT's own `exp` is used when nothing else says. Two more shapes carry more than
// one part: a user name and a password ({"username","password"}), and AWS credential_process
// output ({"Version":1,"AccessKeyId","SecretAccessKey","SessionToken","Expiration"}), which
// `aws configure export-credentials --format process` and aws-vault print.
const TOKEN_KEYS = ["access_token", "accessToken", "token"] as const;
const TYPE_KEYS = ["token_type", "tokenType"] as const;
const PASSWORD_KEY = "password";
const USERNAME_KEYS = ["username", "user"] as const;
const AWS_SECRET_KEY = "SecretAccessKey";
const AWS_SESSION_KEY = "SessionToken";
const SECRET_KEYS = [...TOKEN_KEYS, PASSWORD_KEY, AWS_SECRET_KEY, AWS_SESSION_KEY];

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
    throw new CredagentError("source_failed", "the command printed neither a bare token (one word of printable ASCII) nor a JSON object");
  }
  const value = new Secret(text.slice());
  return { value, tokenType: "Bearer", obtainedAt: now, expiresAt: jwtExpiry(value.bytes()) ?? now + defaultLifetimeMs };
}

function parseJson(text: Uint8Array, now: number, defaultLifetimeMs: number): Token {
  let parsed;
  try {
    parsed = parseJsonWithSecrets(text, SECRET_KEYS);
  } catch (err) {
    // Never the parser's own message: it could quote the input, which may hold the token.
    throw new CredagentError(
      "source_failed",
      err instanceof JsonSyntaxError && err.message === "not a JSON object"
        ? "the command printed JSON that is not an object"
        : "the command printed malformed JSON on stdout",
    );
  }
  const obj = parsed.value;
  const present = (k: string) => (parsed.secrets.get(k)?.byteLength ?? 0) > 0;
  const take = (k: string) => {
    const bytes = parsed.secrets.get(k)!;
    parsed.secrets.delete(k);
    return new Secret(bytes);
  };
  const wipeRest = () => {
    for (const bytes of parsed.secrets.values()) bytes.fill(0);
  };
  if (present(AWS_SECRET_KEY) || typeof obj.AccessKeyId === "string") return parseAws(obj, present, take, wipeRest, now, defaultLifetimeMs);
  if (present(PASSWORD_KEY)) {
    const value = take(PASSWORD_KEY);
    wipeRest();
    const userKey = USERNAME_KEYS.find((k) => typeof obj[k] === "string" && obj[k] !== "");
    return {
      kind: "password",
      value,
      ...(userKey ? { username: obj[userKey] as string } : {}),
      tokenType: "password",
      obtainedAt: now,
      expiresAt: jsonExpiry(obj, now) ?? now + defaultLifetimeMs,
    };
  }
  const key = TOKEN_KEYS.find(present);
  if (!key) {
    wipeRest();
    throw new CredagentError(
      "source_failed",
      `the command's JSON has none of ${TOKEN_KEYS.join(", ")} (a token), password (with username), or AccessKeyId and SecretAccessKey (AWS) as a non-empty string`,
    );
  }
  const value = take(key);
  wipeRest();
  const typeKey = TYPE_KEYS.find((k) => typeof obj[k] === "string");
  // The earlier of the stated expiry and a JWT's own exp: a token is no better than its exp.
  const stated = jsonExpiry(obj, now);
  const exp = jwtExpiry(value.bytes());
  const expiresAt = stated !== undefined && exp !== undefined ? Math.min(stated, exp) : (stated ?? exp ?? now + defaultLifetimeMs);
  return { value, tokenType: typeKey ? (obj[typeKey] as string) : "Bearer", obtainedAt: now, expiresAt };
}

/** AWS credential_process output (Version 1): the secret access key is the value, the session token a second secret. */
function parseAws(
  obj: Record<string, unknown>,
  present: (k: string) => boolean,
  take: (k: string) => Secret,
  wipeRest: () => void,
  now: number,
  defaultLifetimeMs: number,
): Token {
  const problem =
    obj.Version !== 1
      ? `AWS credentials need "Version": 1 (got ${JSON.stringify(obj.Version ?? null)})`
      : typeof obj.AccessKeyId !== "string" || obj.AccessKeyId === ""
        ? "AWS credentials need AccessKeyId"
        : !present(AWS_SECRET_KEY)
          ? "AWS credentials need SecretAccessKey as a non-empty string"
          : obj.Expiration !== undefined && toInstant(obj.Expiration) === undefined
            ? "AWS credentials' Expiration is not an RFC 3339 time"
            : undefined;
  if (problem) {
    wipeRest();
    throw new CredagentError("source_failed", `the command printed ${problem}`);
  }
  const value = take(AWS_SECRET_KEY);
  const sessionToken = present(AWS_SESSION_KEY) ? take(AWS_SESSION_KEY) : undefined;
  wipeRest();
  // Long-term keys (no Expiration) are served for the default lifetime, then the command runs again.
  const expiresAt = obj.Expiration === undefined ? now + defaultLifetimeMs : toInstant(obj.Expiration)!;
  return {
    kind: "aws",
    value,
    aws: { accessKeyId: obj.AccessKeyId as string, ...(sessionToken ? { sessionToken } : {}) },
    tokenType: "aws",
    obtainedAt: now,
    expiresAt,
  };
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
  const exp = jwtClaims(value)?.exp;
  return typeof exp === "number" ? exp * 1000 : undefined;
}

/** The audiences a JWT names (its aud, a string or a list); none when it is not a JWT. */
export function jwtAudiences(value: string | Uint8Array): string[] {
  const aud = jwtClaims(value)?.aud;
  if (typeof aud === "string") return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === "string") : [];
}

/** A JWT's payload (claims are not the secret: without the signature they prove nothing); undefined when it is not one. */
function jwtClaims(value: string | Uint8Array): { exp?: unknown; aud?: unknown } | undefined {
  const bytes = typeof value === "string" ? encoder.encode(value) : value;
  const first = bytes.indexOf(0x2e);
  const second = first < 0 ? -1 : bytes.indexOf(0x2e, first + 1);
  if (first <= 0 || second < 0 || bytes.indexOf(0x2e, second + 1) >= 0) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(decoder.decode(bytes.subarray(first + 1, second)), "base64url").toString("utf8")) as unknown;
    return payload !== null && typeof payload === "object" ? (payload as { exp?: unknown; aud?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}
