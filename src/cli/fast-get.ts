// Copies of wire/types.ts's API_PREFIX and CREDENTIAL_NAME, so that this file imports nothing and
// stays in main.ts's entry chunk (see there); a unit test holds them equal to the originals.
export const API_PREFIX = "/v1";
export const CREDENTIAL_NAME = /^[A-Za-z0-9._-]{1,128}$/;

// `credagent get NAME`, the command run inside $(…) in scripts and prompts, on the shortest path:
// no command table, option parser or client class, and no fetch. A fresh process's first fetch
// starts Bun's HTTP client thread: measured on the test machine, a compiled program that only
// fetches from the socket takes 5.0 ms and 740 page faults, the same with Bun.connect and one
// HTTP/1.1 request 4.1 ms and 704, the runtime's floor (console.log) 3.1 ms and 620. So one
// request is written by hand here and the agent's answer read by the small parser below, which
// knows the two framings a node:http server uses (Content-Length, chunked) and nothing else.
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
  const raw = await exchange(socket, `GET ${API_PREFIX}/credentials/${encodeURIComponent(name)} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  if (raw === "unconnected") return null;
  if (raw === "timeout") {
    await Bun.write(Bun.stderr, `credagent get: the agent at ${socket} did not answer within ${TIMEOUT_MS / 1000}s\n`);
    return 1;
  }
  const response = parseResponse(raw);
  let answer: { token?: unknown; error?: { message?: unknown } };
  try {
    answer = JSON.parse(response?.body ?? "") as typeof answer;
  } catch {
    await Bun.write(Bun.stderr, `credagent get: the agent at ${socket} sent a response that is not JSON\n`);
    return 1;
  }
  if (response!.status === 200 && typeof answer.token === "string") {
    await Bun.write(Bun.stdout, `${answer.token}\n`);
    return 0;
  }
  if (response!.status === 200 || (response!.status === 403 && response!.authenticate)) return null;
  await Bun.write(Bun.stderr, `credagent get: ${typeof answer.error?.message === "string" ? answer.error.message : `the agent answered HTTP ${response!.status}`}\n`);
  return 1;
}

/** One request on a new connection, everything the agent sent until it closed. */
function exchange(socket: string, request: string): Promise<Uint8Array | "unconnected" | "timeout"> {
  const chunks: Uint8Array[] = [];
  let opened = false;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve("timeout"), TIMEOUT_MS);
    const done = (value: Uint8Array | "unconnected") => {
      clearTimeout(timer);
      resolve(value);
    };
    Bun.connect({
      unix: socket,
      socket: {
        open(s) {
          opened = true;
          s.write(request);
        },
        data(_s, data) {
          chunks.push(new Uint8Array(data));
        },
        close() {
          // Closed or reset before any answer (an agent refusing the connection, or not an agent):
          // the full command connects again and says which.
          done(opened && chunks.length > 0 ? Buffer.concat(chunks) : "unconnected");
        },
        error() {
          // close follows.
        },
        connectError() {
          done("unconnected");
        },
      },
    }).catch(() => done("unconnected"));
  });
}

/**
 * The status, the body and whether WWW-Authenticate was sent, from a whole HTTP/1.1 response with
 * a Content-Length or chunked body; null for anything else.
 */
export function parseResponse(raw: Uint8Array): { status: number; body: string; authenticate: boolean } | null {
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const headEnd = bytes.indexOf("\r\n\r\n");
  if (headEnd < 0) return null;
  const [statusLine, ...lines] = bytes.toString("latin1", 0, headEnd).split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3}) /.exec(`${statusLine} `)?.[1];
  if (!status) return null;
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(":")).trim().toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  let body = bytes.subarray(headEnd + 4);
  if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
    const parts: Buffer[] = [];
    for (let at = 0; ; ) {
      const lineEnd = body.indexOf("\r\n", at);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(body.toString("latin1", at, lineEnd), 16);
      if (!Number.isInteger(size) || size < 0 || lineEnd + 2 + size > body.length) return null;
      if (size === 0) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers.has("content-length")) {
    const length = Number(headers.get("content-length"));
    if (!Number.isInteger(length) || length > body.length) return null;
    body = body.subarray(0, length);
  } else {
    return null;
  }
  return { status: Number(status), body: body.toString("utf8"), authenticate: headers.has("www-authenticate") };
}
