import { isTerminal } from "../native/terminal.ts";
import { exchangeBlocking } from "../native/unix-exchange.ts";
import { API_PREFIX, parseResponse } from "./fast-get.ts";

// `credagent start` when an agent already answers, which is what `eval "$(credagent start)"` in a
// shell rc does in every new shell: one GET /v1/health through the blocking exchange `get` uses
// (native/unix-exchange.ts), and the shell code printed; no command table, option parser, client
// class or event loop. It stays in main.ts's entry chunk for the reason fast-get.ts does, so it
// imports only what is already there (fast-get.ts, the exchange) and keeps copies of the few lines
// of output/shell.ts and commands/lock.ts it prints; a unit test holds them to the originals, byte
// for byte, in every dialect.
//
// It answers only what the full command would answer the same way: the plain forms (a dialect flag,
// -a SOCKET), a socket known from the environment (CRED_SOCK or XDG_RUNTIME_DIR), an agent that
// answers 200, or no agent and no socket file (it starts one as the full command does, loading
// client/start.ts then). Everything else returns null and the full command runs, having lost
// nothing (a health request changes nothing in the agent): a socket that does not answer, -t, --config or
// --keyring (validated there), an explicit config the agent may not be running with (unless the
// agent's own path equals it), a 403 asking for the session token, a file store waiting for its
// passphrase with a terminal to ask on, a slow or odd answer.

/** The full command's probe waits this long for the agent's answer (client/start.ts). */
const TIMEOUT_MS = 2_000;

type ShellDialect = "sh" | "csh" | "fish" | "powershell";

const DIALECT_FLAGS: Record<string, ShellDialect> = {
  "-s": "sh",
  "--sh": "sh",
  "-c": "csh",
  "--csh": "csh",
  "--fish": "fish",
  "--powershell": "powershell",
};

/** Copy of commands/lock.ts's message, for a store waiting for its passphrase with no terminal to ask on. */
export function storeStaysLocked(needing: string[] | undefined): string {
  const names = needing && needing.length > 0 ? ` (${needing.map((n) => `'${n}'`).join(", ")} cannot be served without it)` : "";
  return `credagent: the agent's encrypted file store stays locked until 'credagent unlock' gives it its passphrase${names}\n`;
}

/** The arguments after `start`, when they are a form this path answers: the dialect and the socket flag's value. */
export function parseStartArgs(args: string[]): { dialect?: ShellDialect; socket?: string } | null {
  const parsed: { dialect?: ShellDialect; socket?: string } = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const dialect = DIALECT_FLAGS[arg];
    if (dialect) {
      if (parsed.dialect) return null; // two: the full command's usage error
      parsed.dialect = dialect;
      continue;
    }
    let value: string | undefined;
    if (arg === "-a" || arg === "--socket") value = args[++i];
    else if (arg.startsWith("--socket=")) value = arg.slice("--socket=".length);
    else return null;
    if (!value || value.startsWith("-") || parsed.socket !== undefined) return null;
    parsed.socket = value;
  }
  return parsed;
}

export async function fastStart(
  args: string[],
  env: Record<string, string | undefined> = process.env,
  stdinIsTerminal: () => Promise<boolean | null> = () => isTerminal(0),
  startCold: typeof startFromNothing = startFromNothing,
): Promise<number | null> {
  const parsed = parseStartArgs(args);
  if (!parsed) return null;
  const runtime = env.XDG_RUNTIME_DIR;
  const socket = parsed.socket ?? (env.CRED_SOCK || (runtime?.startsWith("/") ? `${runtime}/cred.sock` : undefined));
  // Named pipes (Windows) go through the full client.
  if (!socket || socket.startsWith("\\\\")) return null;
  // An explicit config (CREDAGENT_CONFIG) must be the running agent's: compared here only when it
  // is already the absolute, normal path the full command would resolve it to.
  if (env.CREDAGENT_CONFIG && !isNormalAbsolute(env.CREDAGENT_CONFIG)) return null;
  const request = `GET ${API_PREFIX}/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`;
  const raw = await exchangeBlocking(socket, new TextEncoder().encode(request), TIMEOUT_MS);
  if (raw === "unconnected")
    return (await import("node:fs")).existsSync(socket) ? null : startCold(socket, parsed.dialect, env, stdinIsTerminal);
  if (!(raw instanceof Uint8Array)) return null;
  const answer = await shellCodeFor(parseResponse(raw), parsed.dialect, env, stdinIsTerminal);
  if (!answer) return null;
  // console.log and console.error, as fast-get: part of the runtime's start already, and they
  // write all before the process exits. Each adds the newline the text ends with.
  if (answer.stderr) console.error(answer.stderr.slice(0, -1));
  console.log(answer.stdout.slice(0, -1));
  return 0;
}

/**
 * No agent answers: when no socket file is there either (none ever ran, or the last one stopped),
 * the agent is started here, as the full command starts it (client/start.ts), without loading the
 * command table and option parser first; the ready line carries the health answer printed from.
 * A socket file that does not answer (a crashed agent's, or an agent refusing this process) is the
 * full command's to explain, as is anything shellCodeFor leaves to it (a prompt for the store's
 * passphrase): by then the agent runs, and the full command finds it.
 */
async function startFromNothing(
  socket: string,
  dialect: ShellDialect | undefined,
  env: Record<string, string | undefined>,
  stdinIsTerminal: () => Promise<boolean | null>,
): Promise<number | null> {
  const [{ startAgent }, { currentPathEnv, stateDir }] = await Promise.all([import("../client/start.ts"), import("../paths.ts")]);
  let health: unknown;
  try {
    ({ health } = await startAgent({ socketPath: socket, logDir: stateDir(currentPathEnv()), env, probed: true }));
  } catch (err) {
    const { processContext, reportError, flushOutput } = await import("./io.ts");
    const code = reportError(processContext(currentPathEnv()), "start", err);
    await flushOutput();
    return code;
  }
  const answer = await shellCodeForHealth(health, dialect, env, stdinIsTerminal);
  if (!answer) return null;
  if (answer.stderr) console.error(answer.stderr.slice(0, -1));
  console.log(answer.stdout.slice(0, -1));
  return 0;
}

/**
 * What the full command prints for this answer to GET /v1/health, when it would print it without
 * asking anything; null where it would do something else (or might: then it runs and decides).
 */
export async function shellCodeFor(
  response: { status: number; body: string } | null,
  flag: ShellDialect | undefined,
  env: Record<string, string | undefined>,
  stdinIsTerminal: () => Promise<boolean | null>,
): Promise<{ stdout: string; stderr?: string } | null> {
  // Anything but 200 (a 403 asking for the session token, an error, a refusal) is the full command's.
  if (response?.status !== 200) return null;
  let health: unknown;
  try {
    health = JSON.parse(response.body);
  } catch {
    return null;
  }
  return shellCodeForHealth(health, flag, env, stdinIsTerminal);
}

/** The same for a health answer already parsed (the agent's ready line, when start started it). */
async function shellCodeForHealth(
  answer: unknown,
  flag: ShellDialect | undefined,
  env: Record<string, string | undefined>,
  stdinIsTerminal: () => Promise<boolean | null>,
): Promise<{ stdout: string; stderr?: string } | null> {
  const health = answer as {
    status?: unknown;
    pid?: unknown;
    socket?: unknown;
    locked?: unknown;
    config?: { path?: unknown };
    store?: { state?: unknown; needed_by?: unknown };
    binary_replaced?: unknown;
  } | null;
  if (typeof health !== "object" || health === null || health.status !== "ok") return null;
  const { pid, socket } = health;
  if (typeof pid !== "number" || typeof socket !== "string") return null;
  // The full command refuses an agent running with another config than an explicit one.
  const wanted = env.CREDAGENT_CONFIG;
  if (wanted && health.config?.path !== undefined && health.config.path !== wanted) return null;
  // An agent on a program file since replaced (an upgrade): the full command says so.
  if (health.binary_replaced === true) return null;
  let stderr: string | undefined;
  const needing = health.store?.needed_by;
  const neededBy = Array.isArray(needing) && needing.every((n) => typeof n === "string") ? (needing as string[]) : undefined;
  // A store no configured credential needs is not mentioned; one that is needed is asked for (a
  // terminal: the full command asks) or said.
  if (!health.locked && health.store?.state === "locked" && neededBy?.length !== 0) {
    if ((await stdinIsTerminal()) !== false) return null;
    stderr = storeStaysLocked(neededBy);
  }
  const vars: Array<[string, string]> = [
    ["CRED_SOCK", socket],
    ["CRED_AGENT_PID", String(pid)],
  ];
  // The default shell of the OSes the exchange runs on (Unix: sh; platform/os.ts's defaultShell).
  return { stdout: exportCode(flag ?? dialectFromShell(env.SHELL, "sh"), vars, `Agent pid ${pid}`), ...(stderr ? { stderr } : {}) };
}

/** What path.resolve leaves as it is: absolute, no empty, `.` or `..` segment, no trailing slash. */
export function isNormalAbsolute(path: string): boolean {
  return (
    path === "/" ||
    (path.startsWith("/") &&
      path
        .slice(1)
        .split("/")
        .every((s) => s !== "" && s !== "." && s !== ".."))
  );
}

// Copies of output/shell.ts (see the top of this file).

export function dialectFromShell(shell: string | undefined, fallback: "sh" | "powershell"): ShellDialect {
  if (!shell && fallback === "powershell") return "powershell";
  const name = (shell ?? "").split(/[\\/]/).pop() ?? "";
  if (/csh$/.test(name)) return "csh";
  if (name === "fish") return "fish";
  if (/^(pwsh|powershell)(\.exe)?$/i.test(name)) return "powershell";
  return "sh";
}

function shQuote(value: string): string {
  return /^[\w./:@%+=,-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

function psQuote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export function exportCode(dialect: ShellDialect, vars: Array<[string, string]>, message: string): string {
  const lines = vars.map(([name, value]) => {
    switch (dialect) {
      case "sh":
        return `${name}=${shQuote(value)}; export ${name};`;
      case "csh":
        return `setenv ${name} ${shQuote(value)};`;
      case "fish":
        return `set -x ${name} ${shQuote(value)};`;
      case "powershell":
        return `$env:${name} = ${psQuote(value)};`;
    }
  });
  lines.push(dialect === "powershell" ? `Write-Output ${psQuote(message)};` : `echo ${shQuote(message)};`);
  return `${lines.join("\n")}\n`;
}
