import { decodeJwt } from "jose";
import { CredagentError } from "../errors.ts";
import { Secret } from "../secret.ts";
import type { Token } from "./source.ts";

// What token-printing tools emit: a bare token, or JSON in the shapes of OAuth token responses
// (access_token, expires_in), Azure CLI (accessToken, expiresOn local time, expires_on epoch),
// and the like. A JWT's own `exp` is used when nothing else says.
const TOKEN_KEYS = ["access_token", "accessToken", "token"] as const;
const TYPE_KEYS = ["token_type", "tokenType"] as const;

export function parseTokenOutput(output: string, now: number, defaultLifetimeMs: number): Token {
  const text = output.trim();
  if (text === "") throw new CredagentError("source_failed", "the command printed nothing on stdout");
  if (text.startsWith("{")) return parseJson(text, now, defaultLifetimeMs);
  if (!/^[\x21-\x7e]+$/.test(text) || /^["[]/.test(text)) {
    throw new CredagentError(
      "source_failed",
      "the command printed neither a bare token (one word of printable ASCII) nor a JSON object",
    );
  }
  return { value: new Secret(text), tokenType: "Bearer", obtainedAt: now, expiresAt: jwtExpiry(text) ?? now + defaultLifetimeMs };
}

function parseJson(text: string, now: number, defaultLifetimeMs: number): Token {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // The parser's message quotes the input, which may hold the token: say only where it broke.
    throw new CredagentError("source_failed", "the command printed malformed JSON on stdout");
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new CredagentError("source_failed", "the command printed JSON that is not an object");
  }
  const obj = doc as Record<string, unknown>;
  const key = TOKEN_KEYS.find((k) => typeof obj[k] === "string" && obj[k] !== "");
  if (!key) {
    throw new CredagentError(
      "source_failed",
      `the command's JSON has none of ${TOKEN_KEYS.join(", ")} as a non-empty string`,
    );
  }
  const value = obj[key] as string;
  const typeKey = TYPE_KEYS.find((k) => typeof obj[k] === "string");
  // The earlier of the stated expiry and a JWT's own exp: a token is no better than its exp.
  const stated = jsonExpiry(obj, now);
  const exp = jwtExpiry(value);
  const expiresAt = stated !== undefined && exp !== undefined ? Math.min(stated, exp) : (stated ?? exp ?? now + defaultLifetimeMs);
  return { value: new Secret(value), tokenType: typeKey ? (obj[typeKey] as string) : "Bearer", obtainedAt: now, expiresAt };
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

export function jwtExpiry(value: string): number | undefined {
  if (value.split(".").length !== 3) return undefined;
  try {
    const { exp } = decodeJwt(value);
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
