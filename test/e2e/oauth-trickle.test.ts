import { afterAll, expect, test } from "bun:test";
import { Sandbox } from "./harness.ts";

// A token endpoint that sends its headers at once and then its body a byte at a time must end in
// a timeout that says so (after http_timeout, naming the provider), not in "failed to parse
// response body as JSON".

const box = new Sandbox();
const body = JSON.stringify({ access_token: "slow-token", token_type: "Bearer", expires_in: 3600 });
let requests = 0;
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch() {
    requests += 1;
    let sent = 0;
    let timer: ReturnType<typeof setInterval> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        timer = setInterval(() => {
          if (sent >= body.length) {
            clearInterval(timer);
            controller.close();
            return;
          }
          try {
            controller.enqueue(new TextEncoder().encode(body[sent++]));
          } catch {
            clearInterval(timer); // the client went away
          }
        }, 200);
      },
      cancel() {
        clearInterval(timer);
      },
    });
    return new Response(stream, { headers: { "content-type": "application/json" } });
  },
});
afterAll(async () => {
  await box.cleanup();
  server.stop(true);
});

test("a token response trickled slower than http_timeout is reported as a timeout", async () => {
  box.writeConfig(
    `[credentials.slow]\nsource = "oauth2"\ngrant = "client_credentials"\n` +
      `token_endpoint = "http://127.0.0.1:${server.port}/token"\nclient_id = "svc"\nclient_auth = "none"\nhttp_timeout = "1s"\n`,
  );
  await box.start();
  const started = Date.now();
  const r = await box.run(["get", "slow"], { timeoutMs: 20_000 });
  expect(r.code).not.toBe(0);
  expect(requests).toBeGreaterThan(0);
  expect(r.stderr).not.toContain("JSON");
  expect(r.stderr).toContain(`127.0.0.1:${server.port}`);
  expect(r.stderr).toMatch(/within 1s/);
  expect(r.stderr).toContain("http_timeout");
  expect(Date.now() - started).toBeLessThan(10_000);
});
