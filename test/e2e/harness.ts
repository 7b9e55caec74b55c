import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join, resolve } from "node:path";
import { processEnded } from "../../src/identity/process-info.ts";

// End-to-end tests drive the compiled binary (build/credagent) in throwaway directories with
// their own XDG_RUNTIME_DIR, config and state, over real sockets and with real signals.

export const BIN = resolve(import.meta.dir, "../../build/credagent");
if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run 'npm run build' (test/run.sh does) first`);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Sandbox {
  readonly root: string;
  readonly runtimeDir: string;
  readonly configFile: string;
  readonly stateDir: string;
  readonly env: Record<string, string>;
  /** How the binary is run: as it is, or inside a network namespace (`ip netns exec NAME …`). */
  readonly #wrap: (argv: string[]) => string[];

  constructor(options: { wrap?: (argv: string[]) => string[] } = {}) {
    this.#wrap = options.wrap ?? ((argv) => argv);
    // Short: a Unix socket path must fit in 107 bytes.
    this.root = mkdtempSync("/tmp/ca-e2e-");
    this.runtimeDir = join(this.root, "run");
    mkdirSync(this.runtimeDir, { mode: 0o700 });
    mkdirSync(join(this.root, "config", "credagent"), { recursive: true });
    this.configFile = join(this.root, "config", "credagent", "config.toml");
    this.stateDir = join(this.root, "state");
    this.env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: this.root,
      SHELL: "/bin/sh",
      XDG_RUNTIME_DIR: this.runtimeDir,
      XDG_CONFIG_HOME: join(this.root, "config"),
      XDG_STATE_HOME: this.stateDir,
      XDG_DATA_HOME: join(this.root, "data"),
    };
    // The Secret Service test/run.sh started, if any: every sandbox uses the real keyring.
    if (process.env.DBUS_SESSION_BUS_ADDRESS) this.env.DBUS_SESSION_BUS_ADDRESS = process.env.DBUS_SESSION_BUS_ADDRESS;
  }

  get socket(): string {
    return join(this.runtimeDir, "cred.sock");
  }

  get agentLog(): string {
    const path = join(this.stateDir, "credagent", "agent.log");
    return existsSync(path) ? readFileSync(path, "utf8") : "";
  }

  writeConfig(toml: string): void {
    writeFileSync(this.configFile, toml);
  }

  /** A script in the sandbox, for command sources. */
  script(name: string, body: string): string {
    const path = join(this.root, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return path;
  }

  /** Runs the binary; `input` is its standard input (how secrets are given: never argv). */
  async run(
    args: string[],
    options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number; input?: string } = {},
  ): Promise<RunResult> {
    const env = { ...this.env, ...options.env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const proc = Bun.spawn(this.#wrap([BIN, ...args]), {
      env: env as Record<string, string>,
      cwd: options.cwd ?? this.root,
      stdin: options.input === undefined ? "ignore" : new Blob([options.input]),
      stdout: "pipe",
      stderr: "pipe",
      timeout: options.timeoutMs ?? 20_000,
    });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    return { code, stdout, stderr };
  }

  /** `credagent start`, returning the agent's pid. */
  async start(args: string[] = []): Promise<number> {
    const r = await this.run(["start", "-s", ...args]);
    if (r.code !== 0) throw new Error(`start failed (${r.code}): ${r.stderr}`);
    const pid = /CRED_AGENT_PID=(\d+)/.exec(r.stdout)?.[1];
    if (!pid) throw new Error(`start printed no pid: ${r.stdout}`);
    this.#started.add(Number(pid));
    return Number(pid);
  }

  readonly #started = new Set<number>();

  /** Stops any agent still on this sandbox's socket and removes the directory. */
  async cleanup(): Promise<void> {
    const pids = new Set(this.#started);
    try {
      // With the session token, if there is one: an agent that requires it answers nothing else.
      const tokenFile = `${this.socket}.token`;
      const headers: Record<string, string> = existsSync(tokenFile)
        ? { authorization: `Bearer ${readFileSync(tokenFile, "utf8").trim()}` }
        : {};
      const res = await fetch("http://localhost/v1/health", { unix: this.socket, headers, signal: AbortSignal.timeout(5_000) });
      pids.add(((await res.json()) as { pid: number }).pid);
    } catch {
      // no agent answering
    }
    for (const pid of pids) {
      try {
        // A recorded pid may have been reused since: only an agent of this binary is killed.
        if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(BIN)) continue;
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  /** An HTTP request over the socket with curl-like defaults, through fetch. */
  async request(method: string, path: string, socket = this.socket): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://localhost${path}`, { method, unix: socket, signal: AbortSignal.timeout(15_000) });
    return { status: res.status, body: await res.text() };
  }
}

/**
 * Whether the tests may use a real Secret Service. Outside CI a missing one skips those tests
 * (and says why); under CI=true it is a failure, never a skip.
 */
export function secretServiceAvailable(): boolean {
  if (process.env.CREDAGENT_TEST_SECRET_SERVICE === "1" && process.env.DBUS_SESSION_BUS_ADDRESS) return true;
  if (process.env.CI === "true") throw new Error("CI=true but no Secret Service was started: run the tests through test/run.sh");
  console.warn("skipping the keyring tests: no Secret Service (run them through test/run.sh, which starts one)");
  return false;
}

export function secretTool(args: string[], input?: string): { code: number; stdout: string } {
  const r = Bun.spawnSync(["secret-tool", ...args], {
    stdin: input === undefined ? "ignore" : Buffer.from(input),
    env: process.env as Record<string, string>,
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString() };
}

/** Raw bytes over the socket; resolves with whatever came back when the agent closed or after waitMs. */
/** Sends `chunks` (text, a pause, or `end`: half-close, the client sends nothing more) and collects the answer. */
export function rawExchange(
  socket: string,
  chunks: Array<string | { delayMs: number } | "end">,
  waitMs = 15_000,
): Promise<{ data: string; closed: boolean; elapsedMs: number }> {
  return new Promise((resolvePromise) => {
    const started = Date.now();
    const conn = net.connect(socket);
    let data = "";
    let finished = false;
    const finish = (closed: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      conn.destroy();
      resolvePromise({ data, closed, elapsedMs: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    conn.on("data", (d) => (data += d.toString()));
    conn.on("close", () => finish(true));
    conn.on("error", () => finish(true));
    conn.on("connect", async () => {
      for (const chunk of chunks) {
        if (chunk === "end") conn.end();
        else if (typeof chunk === "string") conn.write(chunk);
        else await Bun.sleep(chunk.delayMs);
        if (finished) return;
      }
    });
  });
}

export function processAlive(pid: number): boolean {
  return !processEnded(pid);
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** A command source that counts its runs in a file and prints a JSON token with the given lifetime. */
export function countingSource(box: Sandbox, name: string, expiresIn: number): { script: string; count: () => number } {
  const counter = join(box.root, `${name}.count`);
  const script = box.script(
    `${name}.sh`,
    `n=$(($(cat ${counter} 2>/dev/null || echo 0) + 1)); echo $n > ${counter}\n` +
      `printf '{"access_token":"%s-%s","expires_in":%s}' ${name} $n ${expiresIn}`,
  );
  return { script, count: () => (existsSync(counter) ? Number(readFileSync(counter, "utf8").trim()) : 0) };
}
