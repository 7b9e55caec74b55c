// A local process that tries to keep the agent unreachable by holding its connections, run as a
// child so that its pid (what the agent sees through SO_PEERCRED) differs from the test's.
//
//   bun conn-attacker.ts SOCKET MODE COUNT [--reopen=MS] [--path=TARGET] [--pause=MS]
//
// MODE: body      complete headers with `Content-Length: 100`, then nothing
//       idle      connect and send nothing
//       slowloris a request line, then one header byte every 1.5 s
//       flood     a full GET; on keep-alive, the next one as soon as the answer is in
// With --reopen=MS, a connection the agent closes is opened again MS later (as a determined
// attacker would). A refused connect (a full listen backlog) is retried. In flood mode, --path
// asks for another target than /v1/health (a credential with confirm = true: the requests wait on
// a prompt), and --pause=MS waits that long after each answer before asking again.
// Prints one JSON line once every connection was tried; then, for each line "report" on stdin,
// one JSON line of what happened so far. Exits when stdin closes, closing everything.
import net from "node:net";

const [socketPath, mode, countText] = process.argv.slice(2);
const reopenArg = process.argv.find((a) => a.startsWith("--reopen"));
const reopenMs = reopenArg === undefined ? undefined : Number(reopenArg.split("=")[1] ?? 20);
const count = Number(countText);
if (!socketPath || !mode || !["body", "idle", "slowloris", "flood"].includes(mode) || !(count > 0)) {
  process.stderr.write("usage: conn-attacker.ts SOCKET body|idle|slowloris|flood COUNT [--reopen=MS]\n");
  process.exit(2);
}

const pathArg = process.argv.find((a) => a.startsWith("--path="));
const pauseArg = process.argv.find((a) => a.startsWith("--pause="));
const pauseMs = pauseArg === undefined ? 0 : Number(pauseArg.split("=")[1]);
const REQUEST = `GET ${pathArg ? pathArg.slice("--path=".length) : "/v1/health"} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
// Half answered at once (a GET ignores its body; the parser still waits for the 100 bytes), half
// waiting on the body (unlock reads it).
const BODY_REQUESTS = ["GET /v1/credentials/db", "POST /v1/unlock"].map(
  (line) => `${line} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n`,
);
const CONNECT_RETRIES = 50;

const stats = {
  connected: 0,
  /** Connections the agent ended, by the status of the last response it sent on them ("none"). */
  closedWith: {} as Record<string, number>,
  /** How long connections the agent ended had lived since connecting, in ms. */
  lifetimesMs: [] as number[],
  connectErrors: {} as Record<string, number>,
  responses: 0,
};
/** Open connections and when each connected. */
const live = new Map<net.Socket, number>();
let stopping = false;
let serial = 0;

function open(retriesLeft: number): void {
  if (stopping) return;
  const n = serial++;
  const conn = net.connect(socketPath!);
  let lastStatus = "none";
  let connectedAt: number | undefined;
  let buffered = "";
  let trickle: ReturnType<typeof setInterval> | undefined;
  conn.on("connect", () => {
    connectedAt = Date.now();
    live.set(conn, connectedAt);
    stats.connected += 1;
    if (mode === "body") conn.write(BODY_REQUESTS[n % 2]!);
    else if (mode === "flood") conn.write(REQUEST);
    else if (mode === "slowloris") {
      conn.write("GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
      trickle = setInterval(() => conn.write("a"), 1_500);
    }
  });
  conn.on("data", (chunk) => {
    buffered += chunk.toString("latin1");
    for (let match = /HTTP\/1\.1 (\d{3})/.exec(buffered); match; match = /HTTP\/1\.1 (\d{3})/.exec(buffered)) {
      lastStatus = match[1]!;
      stats.responses += 1;
      buffered = buffered.slice(match.index + match[0].length);
      if (mode === "flood" && !stopping) {
        if (pauseMs > 0) setTimeout(() => !stopping && !conn.destroyed && conn.write(REQUEST), pauseMs);
        else conn.write(REQUEST);
      }
    }
  });
  conn.on("error", (err: NodeJS.ErrnoException) => {
    if (connectedAt === undefined) stats.connectErrors[err.code ?? "error"] = (stats.connectErrors[err.code ?? "error"] ?? 0) + 1;
  });
  conn.on("close", () => {
    clearInterval(trickle);
    live.delete(conn);
    if (stopping) return;
    if (connectedAt === undefined) {
      if (retriesLeft > 0 || reopenMs !== undefined) setTimeout(() => open(retriesLeft - 1), 20);
      return;
    }
    stats.closedWith[lastStatus] = (stats.closedWith[lastStatus] ?? 0) + 1;
    stats.lifetimesMs.push(Date.now() - connectedAt);
    if (reopenMs !== undefined) setTimeout(() => open(CONNECT_RETRIES), reopenMs);
  });
}

for (let i = 0; i < count; i++) {
  open(CONNECT_RETRIES);
  if (i % 50 === 49) await Bun.sleep(5);
}
await Bun.sleep(300);
process.stdout.write(`${JSON.stringify({ connected: stats.connected, open: live.size })}\n`);

function report(): string {
  const lifetimes = [...stats.lifetimesMs].sort((a, b) => a - b);
  return JSON.stringify({
    connected: stats.connected,
    open: live.size,
    closedWith: stats.closedWith,
    closed: lifetimes.length,
    minLifetimeMs: lifetimes[0] ?? null,
    maxLifetimeMs: lifetimes.at(-1) ?? null,
    oldestOpenMs: live.size === 0 ? null : Date.now() - Math.min(...live.values()),
    connectErrors: stats.connectErrors,
    responses: stats.responses,
  });
}

let input = "";
process.stdin.on("data", (chunk) => {
  input += chunk.toString();
  for (let nl = input.indexOf("\n"); nl >= 0; nl = input.indexOf("\n")) {
    const line = input.slice(0, nl).trim();
    input = input.slice(nl + 1);
    if (line === "report") process.stdout.write(`${report()}\n`);
  }
});
process.stdin.on("end", () => {
  stopping = true;
  for (const conn of live.keys()) conn.destroy();
  process.exit(0);
});
