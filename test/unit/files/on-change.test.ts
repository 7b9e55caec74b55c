import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runOnChange } from "../../../src/files/on-change.ts";

const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };

test("a success, a failure with its stderr (never its stdout), and a timeout that ends the whole group", async () => {
  expect(await runOnChange(["true"], 5_000, env, Date.now)).toMatchObject({ ok: true, error: null });
  const failed = await runOnChange(["sh", "-c", "echo secret-out; echo 'cannot reload' >&2; exit 3"], 5_000, env, Date.now);
  expect(failed.ok).toBe(false);
  expect(failed.error).toBe("'sh' exited with status 3: cannot reload");
  const dir = mkdtempSync("/tmp/ca-onchange-");
  try {
    // A child that ignores SIGTERM and would write a file later: killed with its group at the timeout.
    const late = join(dir, "late");
    const started = Date.now();
    const slow = await runOnChange(["sh", "-c", `(trap '' TERM; sleep 3; touch ${late}) & wait`], 300, env, Date.now);
    expect(slow.ok).toBe(false);
    expect(slow.error).toContain("did not finish within 0.3s");
    expect(Date.now() - started).toBeLessThan(3_000);
    await Bun.sleep(3_200);
    expect(existsSync(late)).toBe(false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  expect((await runOnChange(["/nonexistent/reload"], 1_000, env, Date.now)).error).toContain("could not run '/nonexistent/reload'");
}, 15_000);
