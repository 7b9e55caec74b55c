import { exchangeBlocking } from "../native/unix-exchange.ts";
// Imports nothing either: the agent's message may quote a source's output, shown printable.
import { printableLines } from "../printable.ts";

// Copies of wire/types.ts's API_PREFIX and CREDENTIAL_NAME, so that this file imports nothing
// shared with other commands and stays in main.ts's entry chunk (see there); a unit test holds them
// equal to the originals.
export const API_PREFIX = "/v1";
export const CREDENTIAL_NAME = /^[A-Za-z0-9._-]{1,128}$/;

// `credagent get NAME`, the command run inside $(…) in scripts and prompts, on the shortest path:
// no command table, option parser or client class, no fetch and no event loop. A fresh process's
// first fetch starts Bun's HTTP client thread, and Bun.connect the event loop's socket machinery:
// both cost a fresh process more than the request (BENCHMARKS.md, the start-up table); blocking
// libc calls cost least (native/unix-exchange.ts). So one request is written by hand here and
// the agent's answer read by the small parser below, which knows the two HTTP/1.1 framings
// (Content-Length, which the agent sends, and chunked) and nothing else.
//
// It answers when the socket is known from the environment alone (CRED_SOCK, or XDG_RUNTIME_DIR)
// and reports the agent's own error as the full command does (`credagent get: MESSAGE`, exit 1).
// Everything else returns null and the full command runs, having lost nothing: no connection or
// no answer at all, a 403 asking for the session token (refused at the front door: nothing was
// fetched, audited or asked of the user), an AWS key (no single secret to print).

const TIMEOUT_MS = 60_000;

export async function fastGet(name: string, env: Record<string, string | undefined> = process.env): Promise<number | null> {
  if (!CREDENTIAL_NAME.test(name)) return null; // the full command says what is wrong with it
  const runtime = env.XDG_RUNTIME_DIR;
  const socket = env.CRED_SOCK || (runtime?.startsWith("/") ? `${runtime}/cred.sock` : undefined);
  // Named pipes (Windows) go through node:http in the full client.
  if (!socket || socket.startsWith("\\\\")) return null;
  const request = `GET ${API_PREFIX}/credentials/${encodeURIComponent(name)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
  const raw = await exchangeBlocking(socket, new TextEncoder().encode(request), TIMEOUT_MS);
  if (raw === "unconnected" || raw === "unavailable") return null;
  if (raw === "timeout") {
    console.error(`credagent get: the agent at ${socket} did not answer within ${TIMEOUT_MS / 1000}s`);
    return 1;
  }
  const response = parseResponse(raw);
  let answer: { token?: unknown; error?: { message?: unknown } };
  try {
    answer = JSON.parse(response?.body ?? "") as typeof answer;
  } catch {
    console.error(`credagent get: the agent at ${socket} sent a response that is not JSON`);
    return 1;
  }
  if (response!.status === 200 && typeof answer.token === "string") {
    // console.log, not Bun.write: it is already part of the runtime's start (the floor uses it),
    // and it writes all of a long token to a slow pipe before process.exit (checked with 3 MB).
    console.log(answer.token);
    return 0;
  }
  if (response!.status === 200 || (response!.status === 403 && response!.authenticate)) return null;
  console.error(
    `credagent get: ${typeof answer.error?.message === "string" ? printableLines(answer.error.message) : `the agent answered HTTP ${response!.status}`}`,
  );
  return 1;
}

/**
 * The status, the body and whether WWW-Authenticate was sent, from a whole HTTP/1.1 response with
 * a Content-Length or chunked body; null for anything else. Plain typed arrays and strings, no
 * Buffer: this runs in every `get`, and Buffer's first use costs start-up time.
 */
export function parseResponse(raw: Uint8Array): { status: number; body: string; authenticate: boolean } | null {
  const headEnd = indexOfCrlf(raw, 0, true);
  if (headEnd < 0) return null;
  const decoder = new TextDecoder();
  const [statusLine, ...lines] = decoder.decode(raw.subarray(0, headEnd)).split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3}) /.exec(`${statusLine} `)?.[1];
  if (!status) return null;
  let chunked = false;
  let length: number | undefined;
  let authenticate = false;
  for (const line of lines) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "transfer-encoding") chunked = value.toLowerCase() === "chunked";
    else if (name === "content-length") length = Number(value);
    else if (name === "www-authenticate") authenticate = true;
  }
  let body = raw.subarray(headEnd + 4);
  if (chunked) {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let at = 0; ; ) {
      const lineEnd = indexOfCrlf(body, at, false);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(decoder.decode(body.subarray(at, lineEnd)), 16);
      if (!Number.isInteger(size) || size < 0 || lineEnd + 2 + size > body.length) return null;
      if (size === 0) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      total += size;
      at = lineEnd + 2 + size + 2;
    }
    body = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
      body.set(part, offset);
      offset += part.length;
    }
  } else if (length !== undefined) {
    if (!Number.isInteger(length) || length > body.length) return null;
    body = body.subarray(0, length);
  } else {
    return null;
  }
  return { status: Number(status), body: decoder.decode(body), authenticate };
}

/** Where the first CR LF (or, with `twice`, CR LF CR LF) from `from` starts; -1 if none. */
function indexOfCrlf(bytes: Uint8Array, from: number, twice: boolean): number {
  for (let i = bytes.indexOf(13, from); i >= 0 && i + 1 < bytes.length; i = bytes.indexOf(13, i + 1)) {
    if (bytes[i + 1] === 10 && (!twice || (bytes[i + 2] === 13 && bytes[i + 3] === 10))) return i;
  }
  return -1;
}
