import { afterAll, expect, test } from "bun:test";
import { countingSource, rawExchange, Sandbox } from "./harness.ts";

// hono answers HEAD with the GET handler: a HEAD on a credential ran its source (and could ask
// for a confirmation) to answer with no body. Only GET may fetch.

const box = new Sandbox();
afterAll(() => box.cleanup());

test("HEAD on a credential is 405 with Allow: GET and does not run the source", async () => {
  const source = countingSource(box, "api", 3600);
  const asked = countingSource(box, "asked", 3600);
  box.writeConfig(
    `[credentials.api]\nsource = "command"\ncommand = ["${source.script}"]\n\n` +
      `[credentials.asked]\nsource = "command"\ncommand = ["${asked.script}"]\nconfirm = true\n`,
  );
  await box.start();
  box.env.CRED_SOCK = box.socket;

  // Every credential route, and a credential that would ask the user: no source runs, nobody is asked.
  for (const target of [
    "/v1/credentials/api?min_valid=60",
    "/v1/credentials/api/refresh",
    "/v1/credentials/api/login",
    "/v1/credentials/asked",
    "/v1/credentials/asked/refresh",
  ]) {
    const r = await rawExchange(box.socket, [`HEAD ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`], 5_000);
    expect(r.data).toStartWith("HTTP/1.1 405");
  }
  // Methods are case-sensitive (RFC 9110 9.1): "head" and "HeAd" are not HEAD, nor a GET.
  for (const method of ["head", "HeAd", "get"]) {
    const r = await rawExchange(
      box.socket,
      [`${method} /v1/credentials/api HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`],
      5_000,
    );
    expect(r.data).toMatch(/^HTTP\/1\.1 4\d\d/);
    expect(r.data).not.toContain("api-1");
  }
  expect((await box.run(["approve"])).stdout).toBe("no requests are waiting for approval\n");
  expect(asked.count()).toBe(0);

  const head = await rawExchange(box.socket, ["HEAD /v1/credentials/api HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"], 5_000);
  expect(head.data).toStartWith("HTTP/1.1 405");
  expect(head.data).toMatch(/\r\nallow: GET\r\n/i);
  expect(head.data).not.toContain("api-1");
  const list = await rawExchange(box.socket, ["HEAD /v1/credentials HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"], 5_000);
  expect(list.data).toStartWith("HTTP/1.1 405");
  await Bun.sleep(300);
  expect(source.count()).toBe(0);

  const get = await box.run(["get", "api"]);
  expect(get.stdout.trim()).toBe("api-1");
  expect(source.count()).toBe(1);
});
