import { afterAll, expect, test } from "bun:test";
import { Sandbox } from "./harness.ts";

// Wrong unlock attempts used to queue, each waiting out the backoff of those before it: 40 of
// them held the owner's right passphrase for 98 s. Now an attempt that comes while another is
// being checked, or before the backoff has passed, is refused at once (429), and `credagent
// unlock` retries its own attempt until the agent takes it.

const box = new Sandbox();
afterAll(() => box.cleanup());

function unlockRaw(passphrase: string): Promise<{ status: number; retryAfter: string | null; ms: number }> {
  const started = Date.now();
  return fetch("http://localhost/v1/unlock", {
    method: "POST",
    body: JSON.stringify({ passphrase }),
    headers: { "content-type": "application/json" },
    unix: box.socket,
    signal: AbortSignal.timeout(20_000),
  }).then(async (res) => {
    await res.text();
    return { status: res.status, retryAfter: res.headers.get("retry-after"), ms: Date.now() - started };
  });
}

test("40 concurrent wrong unlocks are refused at once and do not hold up the owner's right one", async () => {
  box.writeConfig(`[credentials.app]\nsource = "command"\ncommand = ["/bin/echo", "app-token"]\n`);
  await box.start();
  expect((await box.run(["lock", "--stdin"], { input: "owner-pass\n" })).code).toBe(0);

  const flood = Promise.all(Array.from({ length: 40 }, () => unlockRaw("guess")));
  await Bun.sleep(20);
  const started = Date.now();
  const owner = await box.run(["unlock", "--stdin"], { input: "owner-pass\n", timeoutMs: 30_000 });
  const ownerMs = Date.now() - started;
  const answers = await flood;

  expect(owner.stderr).toContain("agent unlocked");
  expect(owner.code).toBe(0);
  expect(ownerMs).toBeLessThan(3_000);
  // Each wrong attempt was answered promptly: checked and refused (403), or not taken (429).
  expect(answers.every((a) => a.status === 403 || a.status === 429)).toBe(true);
  expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(3_000);
  const refused = answers.filter((a) => a.status === 429);
  expect(refused.length).toBeGreaterThan(30);
  expect(refused.every((a) => Number(a.retryAfter) >= 1)).toBe(true);

  expect((await box.run(["get", "app"])).stdout.trim()).toBe("app-token");
}, 40_000);
