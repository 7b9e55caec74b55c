import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, Sandbox, waitFor } from "./harness.ts";

// Once started, the agent drops the pages of read-only file mappings that only its start touched
// (src/platform/startup-pages.ts): what it runs afterwards must find its code again. How much it
// saves is measured in BENCHMARKS.md (bench/footprint.ts), not asserted here.

const boxes: Sandbox[] = [];
afterAll(async () => {
  for (const box of boxes) await box.cleanup();
});

test.skipIf(process.platform !== "linux")(
  "the start-up pages are released, and the agent then serves, fetches, locks and unlocks as before",
  async () => {
    const box = new Sandbox();
    boxes.push(box);
    const runs = join(box.root, "runs");
    const src = box.script("token.sh", `echo run >> ${runs}; echo '{"access_token":"tok-'$(wc -l < ${runs})'","expires_in":3600}'`);
    box.writeConfig(`[credentials.db]\nsource = "command"\ncommand = ["${src}"]\n`);
    const log = join(box.root, "agent.log");
    const agent = Bun.spawn([BIN, "agent", "--log-file", log, "--log-level", "debug"], {
      env: box.env,
      stdout: "ignore",
      stderr: "ignore",
    });
    try {
      const released = () => /start-up pages released kb=(\d+)/.exec(existsSync(log) ? readFileSync(log, "utf8") : "")?.[1];
      await waitFor(() => released() !== undefined, 15_000, "the start-up pages to be released");
      expect(Number(released())).toBeGreaterThan(1_000);
      const env = { CRED_SOCK: box.socket };
      expect((await box.run(["get", "db"], { env })).stdout).toBe("tok-1\n");
      expect((await box.run(["refresh", "db"], { env })).code).toBe(0);
      expect((await box.run(["get", "db"], { env })).stdout).toBe("tok-2\n");
      expect((await box.run(["lock", "--stdin"], { env, input: "a lock passphrase\n" })).code).toBe(0);
      expect((await box.run(["get", "db"], { env })).code).not.toBe(0);
      expect((await box.run(["unlock", "--stdin"], { env, input: "a lock passphrase\n" })).code).toBe(0);
      expect((await box.run(["status"], { env })).code).toBe(0);
      agent.kill("SIGTERM");
      expect(await agent.exited).toBe(0);
    } finally {
      agent.kill("SIGKILL");
    }
  },
  60_000,
);
