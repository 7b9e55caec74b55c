import { describe } from "../errors.ts";
import { runInOwnGroup } from "../sources/process-group.ts";

// `on_change`: a program run after a kept file is rewritten (a service reloading its config), by the
// rules of command sources: no shell, a process group of its own that is ended when it exits or at
// its timeout (SIGTERM, then SIGKILL). Its outcome is returned, never thrown: a failure is logged
// and shown in `credagent status`, and the file stays written.

export interface OnChangeOutcome {
  ranAt: number;
  ok: boolean;
  /** Why it failed: its exit status and the last lines of its stderr (never its stdout). */
  error: string | null;
}

const MAX_OUTPUT_BYTES = 64 * 1024;
const KILL_GRACE_MS = 2_000;
const MAX_STDERR_IN_MESSAGE = 300;

export async function runOnChange(
  argv: string[],
  timeoutMs: number,
  env: Record<string, string | undefined>,
  now: () => number,
): Promise<OnChangeOutcome> {
  const ranAt = now();
  const program = argv[0]!;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const result = await runInOwnGroup({ argv, env, signal: timeout, maxOutputBytes: MAX_OUTPUT_BYTES, graceMs: KILL_GRACE_MS });
    result.stdout?.fill(0);
    if (timeout.aborted)
      return { ranAt, ok: false, error: `'${program}' did not finish within ${timeoutMs / 1000}s: its process group was killed` };
    if (result.exitCode === 0) return { ranAt, ok: true, error: null };
    const why = (result.stderr ?? "").trim().split("\n").slice(-3).join(" ").slice(0, MAX_STDERR_IN_MESSAGE);
    const how = result.exitCode === null ? `was killed by ${result.signalCode ?? "a signal"}` : `exited with status ${result.exitCode}`;
    return { ranAt, ok: false, error: `'${program}' ${how}${why ? `: ${why}` : ""}` };
  } catch (err) {
    return { ranAt, ok: false, error: `could not run '${program}': ${describe(err)}` };
  }
}
