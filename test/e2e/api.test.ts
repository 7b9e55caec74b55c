import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { countingSource, rawExchange, Sandbox } from "./harness.ts";

let box: Sandbox;
let pid: number;

beforeAll(async () => {
  box = new Sandbox();
  const db = countingSource(box, "db", 3600);
  box.writeConfig(`[credentials.db]\nsource = "command"\ncommand = ["${db.script}"]\n`);
  pid = await box.start();
});
afterAll(() => box.cleanup());

async function stillServing(): Promise<void> {
  const res = await box.request("GET", "/v1/credentials/db");
  expect(res.status).toBe(200);
}

describe("HTTP API over the socket", () => {
  test("curl --unix-socket gets a token", () => {
    const curl = Bun.spawnSync(["curl", "-sS", "--unix-socket", box.socket, "http://localhost/v1/credentials/db"]);
    expect(curl.exitCode).toBe(0);
    expect(JSON.parse(curl.stdout.toString())).toMatchObject({ name: "db", token: "db-1", token_type: "Bearer" });
  });

  test("health and list", async () => {
    const health = JSON.parse((await box.request("GET", "/v1/health")).body);
    expect(health).toMatchObject({ status: "ok", pid, socket: box.socket });
    const list = JSON.parse((await box.request("GET", "/v1/credentials")).body);
    expect(list.credentials[0]).toMatchObject({ name: "db", source: "command" });
  });

  test("keep-alive: many requests on one connection", async () => {
    const request = "GET /v1/credentials/db HTTP/1.1\r\nHost: localhost\r\n\r\n";
    const r = await rawExchange(box.socket, [request, request, request, { delayMs: 300 }], 1_000);
    expect(r.data.match(/HTTP\/1\.1 200 OK/g)?.length).toBe(3);
  });

  test("malformed requests get 400 and the agent keeps serving", async () => {
    for (const garbage of [
      "BLAH\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "\x00\x01\x02\x03\r\n\r\n",
      "GET /v1/health HTTP/1.1\r\nHost localhost\r\n\r\n",
    ]) {
      const r = await rawExchange(box.socket, [garbage], 5_000);
      expect(r.data).toStartWith("HTTP/1.1 400");
      expect(r.data).toContain('"code":"bad_request"');
    }
    await stillServing();
  });

  test("bytes no request can start with get 400 at once, without a head's end: a TLS ClientHello, a NUL in the method, 4 KiB of random bytes, HeAd", async () => {
    const random = Array.from({ length: 4096 }, (_, i) => String.fromCharCode((i * 131 + 7) & 0xff)).join("");
    for (const garbage of [
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
      "G\x00T / HTTP/1.1",
      random,
      "HeAd /v1/credentials/db HTTP/1.1",
    ]) {
      // No CR LF CR LF is ever sent: before, each waited 10 s for the head's end and got 408.
      const r = await rawExchange(box.socket, [garbage], 5_000);
      expect(r.data).toStartWith("HTTP/1.1 400");
      expect(r.closed).toBe(true);
      expect(r.elapsedMs).toBeLessThan(100);
    }
    await stillServing();
  });

  test("oversized headers get 431", async () => {
    const r = await rawExchange(box.socket, [`GET /v1/health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(40_000)}\r\n\r\n`], 5_000);
    expect(r.data).toStartWith("HTTP/1.1 431");
    await stillServing();
  });

  test("an oversized body gets 413", async () => {
    const body = "x".repeat(100_000);
    const r = await rawExchange(
      box.socket,
      [`POST /v1/credentials/db/refresh HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n${body}`],
      5_000,
    );
    expect(r.data).toStartWith("HTTP/1.1 413");
    expect(r.closed).toBe(true);
    expect(r.elapsedMs).toBeLessThan(2_000);
    await stillServing();
  });

  test("a request trickled in too slowly gets 408 (slowloris), and the agent keeps serving", async () => {
    const chunks: Array<string | { delayMs: number }> = ["GET /v1/health HTTP/1.1\r\n"];
    for (let i = 0; i < 14; i++) chunks.push({ delayMs: 1_000 }, `X-Slow-${i}: 1\r\n`);
    const pending = rawExchange(box.socket, chunks, 14_000);
    await stillServing();
    const r = await pending;
    expect(r.data).toStartWith("HTTP/1.1 408");
    expect(r.closed).toBe(true);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(9_500);
    expect(r.elapsedMs).toBeLessThan(12_000);
  }, 20_000);

  test("a client that waits for 100 Continue gets it (curl's --expect100-timeout is 1 s), and chunked bodies are read", async () => {
    const started = Date.now();
    const expecting = Bun.spawnSync([
      "curl",
      "-sS",
      "--unix-socket",
      box.socket,
      "-H",
      "Expect: 100-continue",
      "--expect100-timeout",
      "5",
      "-d",
      "{}",
      "http://localhost/v1/credentials/db/refresh",
    ]);
    expect(expecting.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(JSON.parse(expecting.stdout.toString())).toMatchObject({ name: "db" });
    const chunked = Bun.spawnSync([
      "curl",
      "-sS",
      "--unix-socket",
      box.socket,
      "-H",
      "Transfer-Encoding: chunked",
      "-d",
      "{}",
      "http://localhost/v1/credentials/db/refresh",
    ]);
    expect(JSON.parse(chunked.stdout.toString())).toMatchObject({ name: "db" });
  });

  test("a client that half-closes after its request still gets the answer, then the connection closes", async () => {
    const r = await rawExchange(box.socket, ["GET /v1/credentials/db HTTP/1.1\r\nHost: localhost\r\n\r\n", "end"], 5_000);
    expect(r.data).toStartWith("HTTP/1.1 200 OK\r\n");
    expect(r.closed).toBe(true);
  });

  test("pipelined requests with bodies, sent at once, are answered in order", async () => {
    const post = "POST /v1/credentials/db/refresh HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}";
    const get = "GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    const r = await rawExchange(box.socket, [post + post + get], 5_000);
    const answers = r.data.split(/(?=HTTP\/1\.1 )/);
    expect(answers.map((a) => a.slice(0, 15))).toEqual(["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"]);
    expect(answers[2]).toContain('"status":"ok"');
    expect(r.closed).toBe(true);
  });

  test("pipelined requests past what the agent buffers (it stops reading, then goes on) are all answered", async () => {
    const body = JSON.stringify({ pad: "x".repeat(60_000) });
    const post = `POST /v1/credentials/db/refresh HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const get = "GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    const r = await rawExchange(box.socket, [post + post + post + get], 10_000);
    expect(r.data.match(/HTTP\/1\.1 200 OK/g)?.length).toBe(4);
    expect(r.closed).toBe(true);
  });

  test("a browser-style request is refused", async () => {
    const r = await rawExchange(
      box.socket,
      ["GET /v1/credentials/db HTTP/1.1\r\nHost: localhost\r\nOrigin: https://evil.example\r\n\r\n"],
      300,
    );
    expect(r.data).toStartWith("HTTP/1.1 403");
    expect(r.data).not.toContain("db-1");
  });

  test("hundreds of connections opened and dropped mid-request leave the agent healthy", async () => {
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => rawExchange(box.socket, [`GET /v1/credentials/db HTTP/1.1\r\nHo`.slice(0, 5 + (i % 30))], 50)),
    );
    await stillServing();
  });
});
