import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { countingSource, Sandbox } from "./harness.ts";

// Real time, real processes: 2-second tokens over 7 seconds. Only bounds hold here (the jitter is
// random and the source is a process that takes its time to start); the exact schedule of this very
// scenario is checked on the fake clock in test/unit/refresh/credential.test.ts ("2 s tokens asked
// for every 50 ms"). What this file adds is what only the binary shows: real timers refresh in the
// background and a real client is never handed an expired token.
let box: Sandbox;
let short: ReturnType<typeof countingSource>;

beforeAll(async () => {
  box = new Sandbox();
  short = countingSource(box, "short", 2);
  box.writeConfig(`[credentials.short]\nsource = "command"\ncommand = ["${short.script}"]\n`);
  await box.start();
});
afterAll(() => box.cleanup());

describe("refresh with the real binary", () => {
  test("get never returns an expired token, and the source runs about once per lifetime", async () => {
    const seen = new Set<string>();
    let requests = 0;
    const end = Date.now() + 7_000;
    while (Date.now() < end) {
      const res = await box.request("GET", "/v1/credentials/short");
      const received = Date.now();
      expect(res.status).toBe(200);
      const body = JSON.parse(res.body) as { token: string; expires_at: string };
      expect(Date.parse(body.expires_at)).toBeGreaterThan(received);
      seen.add(body.token);
      requests += 1;
      await Bun.sleep(50);
    }
    expect(requests).toBeGreaterThan(60);
    // Refreshed at 70-80% of 2 s: 4 to 6 runs in 7 s, never one per request.
    expect(short.count()).toBeGreaterThanOrEqual(4);
    expect(short.count()).toBeLessThanOrEqual(7);
    // Each token fetched was served, but for one a background refresh may have fetched just after the last request.
    expect(seen.size).toBeGreaterThanOrEqual(short.count() - 1);
    expect(seen.size).toBeLessThanOrEqual(short.count());
  }, 15_000);

  test("the refresh happened ahead of expiry, in the background", async () => {
    const before = short.count();
    await Bun.sleep(2_000);
    expect(short.count()).toBeGreaterThan(before);
    const list = JSON.parse((await box.request("GET", "/v1/credentials")).body);
    // Refreshes come every ~1.5 s here, so the listing may catch one under way.
    expect(["fresh", "refreshing"]).toContain(list.credentials[0].state);
    expect(list.credentials[0].expires_at).not.toBeNull();
    expect(Date.parse(list.credentials[0].expires_at)).toBeGreaterThan(Date.now());
  });
});
