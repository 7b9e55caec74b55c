import type { Secret } from "../secret.ts";

// A pgpass file's lines: libpq reads the file at every connection attempt, so psql, pg_dump and
// every libpq-based app get the current password with no change of their own. The agent keeps it
// fresh as one of its kept files (src/files/specs.ts: 0600 in its runtime directory, replaced
// atomically, removed on lock and stop).

/** One line's fields; `*` matches anything in host, port, database and username (libpq's rule). */
export interface PgpassEntry {
  host: string;
  port: string;
  database: string;
  username: string;
  password: Secret;
}

/** A field escaped for pgpass: `\` and `:` get a backslash (a literal `*` cannot be written). */
export function escapePgpassField(value: string): string {
  return value.replace(/[\\:]/g, (ch) => `\\${ch}`);
}

const BACKSLASH = 0x5c;
const COLON = 0x3a;
const NEWLINE = 0x0a;

/**
 * The file's bytes, built from the passwords' bytes without making strings of them; the caller
 * zeroes the buffer after writing it. A newline in a password cannot be written in pgpass: refused.
 */
export function pgpassBytes(entries: PgpassEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const encoder = new TextEncoder();
  for (const entry of entries) {
    const head = [entry.host, entry.port, entry.database, entry.username].map(escapePgpassField).join(":") + ":";
    parts.push(encoder.encode(head));
    const password = entry.password.bytes();
    let extra = 0;
    for (const byte of password) {
      if (byte === NEWLINE || byte === 0x0d)
        throw new PgpassError(`the password for ${entry.username}@${entry.host} holds a line break, which a pgpass file cannot hold`);
      if (byte === BACKSLASH || byte === COLON) extra += 1;
    }
    const escaped = new Uint8Array(password.length + extra + 1);
    let at = 0;
    for (const byte of password) {
      if (byte === BACKSLASH || byte === COLON) escaped[at++] = BACKSLASH;
      escaped[at++] = byte;
    }
    escaped[at] = NEWLINE;
    parts.push(escaped);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
    part.fill(0);
  }
  return out;
}

export class PgpassError extends Error {
  override name = "PgpassError";
}
