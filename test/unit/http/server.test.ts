import { expect, test } from "bun:test";
import { Admission } from "../../../src/admission/admission.ts";
import { createHttpServer, type Handler } from "../../../src/http/server.ts";
import type { PeerLookup } from "../../../src/identity/identify.ts";
import { createLogger } from "../../../src/log/log.ts";
import { FakeClock } from "../../support/fake-clock.ts";
import { FakeStream } from "../../support/fake-stream.ts";

// The generic HTTP server driven through in-memory streams: no socket, a fake clock for its
// deadlines, a fake kernel answer for who connects.

const log = createLogger(() => {}, "error");

function server(
  handler: Handler,
  peer: PeerLookup = { ok: true, actor: { transport: "unix", uid: 1000, peer: { pid: 42, uid: 1000, gid: 1000 } } },
) {
  const clock = new FakeClock();
  const admission = new Admission({
    agentUid: 1000,
    denyRoot: false,
    limits: { max: 16 },
    log,
    lookUpPeer: () => peer,
    lookUpProcess: () => ({ exe: "/usr/bin/psql", startTime: 1 }),
    alive: () => true,
  });
  const http = createHttpServer(handler, {
    admission,
    door: "api",
    headersTimeoutMs: 10_000,
    bodyTimeoutMs: 10_000,
    idleTimeoutMs: 60_000,
    log,
    clock,
  });
  const connect = () => {
    const stream = new FakeStream();
    http.onStream(stream);
    return stream;
  };
  return { http, clock, connect, admission };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

test("a request is answered with the handler's response and the Actor the admission step found", async () => {
  let seen: unknown;
  const { connect } = server((req, actor) => {
    seen = { method: req.method, url: new URL(req.url).pathname, actor };
    return Response.json({ ok: true });
  });
  const s = connect();
  s.receive("GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
  await settle();
  expect(s.text()).toStartWith("HTTP/1.1 200 OK\r\n");
  expect(s.text()).toContain("Content-Length: 11\r\n");
  expect(s.text()).toEndWith('{"ok":true}');
  expect(seen).toEqual({
    method: "GET",
    url: "/v1/health",
    actor: { transport: "unix", uid: 1000, peer: { pid: 42, uid: 1000, gid: 1000 }, process: { exe: "/usr/bin/psql", startTime: 1 } },
  });
  expect(s.ended || s.destroyed).toBe(false);
});

test("another uid is answered 403 and never reaches the handler", async () => {
  let called = false;
  const { connect } = server(() => ((called = true), new Response("x")), {
    ok: true,
    actor: { transport: "unix", uid: 1001, peer: { pid: 7, uid: 1001, gid: 1001 } },
  });
  const s = connect();
  s.receive("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  await settle();
  expect(s.text()).toStartWith("HTTP/1.1 403 Forbidden\r\n");
  expect(s.text()).toContain("this agent serves only its own user");
  expect(called).toBe(false);
});

test("pipelined requests are answered in order, one at a time", async () => {
  const order: string[] = [];
  const { connect } = server(async (req) => {
    const path = new URL(req.url).pathname;
    order.push(`start ${path}`);
    await new Promise((r) => setTimeout(r, path === "/a" ? 5 : 0));
    order.push(`end ${path}`);
    return new Response(path);
  });
  const s = connect();
  s.receive("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  await new Promise((r) => setTimeout(r, 30));
  expect(order).toEqual(["start /a", "end /a", "start /b", "end /b"]);
  expect(s.text().indexOf("/a")).toBeLessThan(s.text().indexOf("/b"));
});

test("a head not complete by its deadline gets 408 and the close; an idle connection is closed at its own", async () => {
  const { connect, clock } = server(() => new Response("x"));
  const slow = connect();
  slow.receive("GET / HTTP/1.1\r\nHost:");
  await clock.advance(9_999);
  expect(slow.text()).toBe("");
  await clock.advance(1);
  expect(slow.text()).toStartWith("HTTP/1.1 408");
  expect(slow.ended).toBe(true);

  const idle = connect();
  await clock.advance(59_999);
  expect(idle.destroyed).toBe(false);
  await clock.advance(1);
  expect(idle.destroyed).toBe(true);
});

test("a request line that cannot become valid is refused at once, before any head's end", async () => {
  const { connect } = server(() => new Response("x"));
  const tls = connect();
  tls.receive(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00]));
  expect(tls.text()).toStartWith("HTTP/1.1 400");
  expect(tls.ended).toBe(true);
});

test("HEAD gets the GET answer's headers and no body; the request body is zeroed once answered", async () => {
  let body: Uint8Array | undefined;
  const { connect } = server(async (req) => {
    if (req.method === "POST") body = new Uint8Array(await req.arrayBuffer());
    return new Response("hello");
  });
  const head = connect();
  head.receive("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  await settle();
  expect(head.text()).toStartWith("HTTP/1.1 200");
  expect(head.text()).toContain("Content-Length: 5\r\n");
  expect(head.text()).not.toContain("hello");
  const post = connect();
  const sent = new TextEncoder().encode("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecret");
  post.receive(sent);
  await settle();
  expect(new TextDecoder().decode(body)).toBe("secret");
  // The bytes handed to the server are zeroed once the parser has them (they may hold a passphrase).
  expect(sent.every((b) => b === 0)).toBe(true);
});

test("drain answers what is in flight within the grace, and closes the rest", async () => {
  let release!: () => void;
  const { http, connect, clock } = server(() => new Promise<Response>((r) => (release = () => r(new Response("late")))));
  const busy = connect();
  const idle = connect();
  busy.receive("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await settle();
  const draining = http.drain(5_000);
  expect(idle.destroyed).toBe(true);
  release();
  await draining;
  expect(busy.text()).toContain("late");
  expect(busy.destroyed || busy.ended).toBe(true);
});
