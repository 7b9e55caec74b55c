import { resolve } from "node:path";

// Runs test/support/conn-attacker.ts as a child process (its own pid, as a real attacker would
// have) and talks to it over its stdin/stdout. Closing its stdin ends it and every connection.

const ATTACKER = resolve(import.meta.dir, "conn-attacker.ts");
const BUN = resolve(import.meta.dir, "../../node_modules/.bin/bun");

export type AttackMode = "body" | "idle" | "slowloris" | "flood";

export interface AttackReport {
  /** Connects that succeeded, reopened ones included. */
  connected: number;
  open: number;
  /** Connections the agent ended, by the status of the last response on them ("none": no response). */
  closedWith: Record<string, number>;
  closed: number;
  minLifetimeMs: number | null;
  maxLifetimeMs: number | null;
  /** Age of the oldest connection still open. */
  oldestOpenMs: number | null;
  connectErrors: Record<string, number>;
  responses: number;
}

export interface Attack {
  pid: number;
  report(): Promise<AttackReport>;
  /** Ends the attacker and its connections; safe to call twice. */
  stop(): Promise<void>;
}

export async function startAttack(
  socket: string,
  mode: AttackMode,
  count: number,
  options: { reopenMs?: number; path?: string; pauseMs?: number } = {},
): Promise<Attack> {
  const proc = Bun.spawn(
    [
      BUN,
      ATTACKER,
      socket,
      mode,
      String(count),
      ...(options.reopenMs === undefined ? [] : [`--reopen=${options.reopenMs}`]),
      ...(options.path === undefined ? [] : [`--path=${options.path}`]),
      ...(options.pauseMs === undefined ? [] : [`--pause=${options.pauseMs}`]),
    ],
    {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    },
  );
  const lines = readLines(proc.stdout);
  const stop = async () => {
    try {
      proc.stdin.end();
    } catch {
      // already closed
    }
    const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(2_000).then(() => false)]);
    if (!exited) proc.kill("SIGKILL");
    await proc.exited;
  };
  const first = await Promise.race([lines.next(), Bun.sleep(30_000).then(() => null)]);
  if (!first || first.done) {
    await stop();
    throw new Error(`the ${mode} attacker did not get its connections open`);
  }
  return {
    pid: proc.pid,
    async report() {
      proc.stdin.write("report\n");
      proc.stdin.flush();
      const line = await lines.next();
      if (line.done) throw new Error("the attacker exited");
      return JSON.parse(line.value) as AttackReport;
    },
    stop,
  };
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
}
