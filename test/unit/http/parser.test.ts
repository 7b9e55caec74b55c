import { describe, expect, test } from "bun:test";
import { RequestParser, type ParseStep } from "../../../src/http/parser.ts";

const LIMITS = { maxHeadBytes: 16 * 1024, maxBodyBytes: 64 * 1024 };
const bytes = (s: string) => new TextEncoder().encode(s);

/** Every step after pushing `text` (in pieces of `piece` bytes), until the parser has nothing more. */
function steps(text: string | Uint8Array, piece = Infinity): ParseStep[] {
  const parser = new RequestParser(LIMITS);
  const all = typeof text === "string" ? bytes(text) : text;
  const out: ParseStep[] = [];
  for (let at = 0; at < all.length; at += Math.min(piece, all.length)) {
    parser.push(all.subarray(at, at + Math.min(piece, all.length)));
    for (;;) {
      const step = parser.next();
      out.push(step);
      if (step.kind !== "request") break;
    }
  }
  return out;
}

const requests = (s: ParseStep[]) => s.flatMap((x) => (x.kind === "request" ? [x.request] : []));
const firstError = (text: string) => steps(text).find((s) => s.kind === "error");

describe("requests", () => {
  test("a GET: method, target, headers as sent, keep-alive by version and Connection", () => {
    const [r] = requests(steps("GET /v1/credentials/db?x=1 HTTP/1.1\r\nHost: localhost\r\nX-A:  b c \r\n\r\n"));
    expect(r).toEqual({
      method: "GET",
      target: "/v1/credentials/db?x=1",
      version: "1.1",
      headers: [
        ["Host", "localhost"],
        ["X-A", "b c"],
      ],
      keepAlive: true,
      expectContinue: false,
      body: null,
    });
    expect(requests(steps("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"))[0]!.keepAlive).toBe(false);
    expect(requests(steps("GET / HTTP/1.0\r\n\r\n"))[0]!.keepAlive).toBe(false);
    expect(requests(steps("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"))[0]!.keepAlive).toBe(true);
  });

  test("the same request a byte at a time: head steps, then the request; empty lines before it are skipped", () => {
    const text = "\r\n\r\nPOST /v1/lock HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello";
    const s = steps(text, 1);
    expect(s.filter((x) => x.kind === "head").length).toBeGreaterThan(40);
    expect(s.filter((x) => x.kind === "body").length).toBe(5);
    expect(new TextDecoder().decode(requests(s)[0]!.body!)).toBe("hello");
    expect(s.at(-1)).toEqual({ kind: "empty" });
  });

  test("pipelined requests come out in order, bodies and all", () => {
    const r = requests(steps("POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n"));
    expect(r.map((x) => x.target)).toEqual(["/a", "/b", "/c"]);
    expect(new TextDecoder().decode(r[0]!.body!)).toBe("hi");
  });

  test("a body still arriving when the buffer grows (behind a pipelined request) is read from the right place", () => {
    for (const framing of ["length", "chunked"]) {
      const parser = new RequestParser(LIMITS);
      const body = Array.from({ length: 5000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join("");
      const wire = framing === "length" ? body : `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      const head = `POST /b HTTP/1.1\r\n${framing === "length" ? `Content-Length: ${body.length}` : "Transfer-Encoding: chunked"}\r\n\r\n`;
      parser.push(bytes(`GET /a HTTP/1.1\r\n\r\n${head}${wire.slice(0, 10)}`));
      expect(parser.next()).toMatchObject({ kind: "request", request: { target: "/a" } });
      expect(parser.next().kind).toBe("body");
      parser.push(bytes(wire.slice(10)));
      const step = parser.next();
      expect(step.kind).toBe("request");
      expect(new TextDecoder().decode((step as { request: { body: Uint8Array } }).request.body)).toBe(body);
    }
  });

  test("a chunked body, with a chunk extension and trailers, in any pieces", () => {
    const text =
      "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;name=x\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
    for (const piece of [1, 3, 7, Infinity]) {
      const r = requests(steps(text, piece));
      expect(new TextDecoder().decode(r[0]!.body!)).toBe("hello, world");
      expect(r[1]!.target).toBe("/next");
    }
  });

  test("Expect: 100-continue is reported only for a request with a body", () => {
    const withBody = steps("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    expect(withBody).toContainEqual(expect.objectContaining({ kind: "body", head: expect.objectContaining({ expectContinue: true }) }));
    expect(requests(steps("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"))[0]!.expectContinue).toBe(false);
  });

  test("a body trickled a byte at a time costs time in proportion to its size", () => {
    const body = "x".repeat(60_000);
    const chunked = `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${[...body.matchAll(/.{1,10}/g)].map((m) => `a\r\n${m[0]}\r\n`).join("")}0\r\n\r\n`;
    const started = performance.now();
    expect(requests(steps(chunked, 1))[0]!.body!.length).toBe(60_000);
    expect(requests(steps(`POST / HTTP/1.1\r\nContent-Length: 60000\r\n\r\n${body}`, 1))[0]!.body!.length).toBe(60_000);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe("refused, and the stream stays refused", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["a bare LF line end", "GET / HTTP/1.1\nHost: x\r\n\r\n", /malformed/],
    ["a folded header line", "GET / HTTP/1.1\r\nX-A: 1\r\n b\r\n\r\n", /folded/],
    ["space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", /header name/],
    ["no colon", "GET / HTTP/1.1\r\nHost localhost\r\n\r\n", /header line/],
    ["a bad method", "G(T / HTTP/1.1\r\n\r\n", /request line/],
    ["an absolute-form target", "GET http://localhost/ HTTP/1.1\r\n\r\n", /origin-form/],
    ["HTTP/9.9", "GET / HTTP/9.9\r\n\r\n", /HTTP\/1\.0 and HTTP\/1\.1/],
    ["binary garbage", "\x00\x01\x02\x03\r\n\r\n", /request line/],
    ["Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", /both/],
    [
      "a Transfer-Encoding other than chunked",
      "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
      /only Transfer-Encoding: chunked/,
    ],
    ["Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", /HTTP\/1\.0/],
    ["a signed Content-Length", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", /Content-Length/],
    ["a negative Content-Length", "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", /Content-Length/],
    ["a hex Content-Length", "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", /Content-Length/],
    ["Content-Lengths that disagree", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", /Content-Length/],
    ["two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /Host/],
    ["a control character in a value", "GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n", /control/],
    ["a bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n0\r\n\r\n", /chunk size/],
    ["a chunk longer than its size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n", /CR LF/],
  ];
  for (const [what, text, message] of cases) {
    test(what, () => {
      const parser = new RequestParser(LIMITS);
      parser.push(bytes(text));
      const step = parser.next();
      expect(step).toMatchObject({ kind: "error", code: "bad_request" });
      expect((step as { message: string }).message).toMatch(message);
      parser.push(bytes("GET / HTTP/1.1\r\n\r\n"));
      expect(parser.next().kind).toBe("error");
    });
  }

  test("Content-Length only once, agreeing or not, and never as a list (as llhttp)", () => {
    expect(firstError("POST / HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nhi")).toMatchObject({ code: "bad_request" });
    expect(firstError("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi")?.message).toContain(
      "more than one Content-Length",
    );
  });

  test("bytes that cannot begin a request are refused as they come, not at the headers' deadline", () => {
    for (const start of ["\x16\x03\x01", "G\x00", "get", "HeA", "BREW", "GET x", "GET /\x01", "GET / HTTP/2", "GET / HTTP/1.1X"]) {
      const parser = new RequestParser(LIMITS);
      parser.push(bytes(start));
      expect({ start, kind: parser.next().kind }).toEqual({ start, kind: "error" });
    }
    // A prefix that can still become a request waits for more.
    for (const start of ["\r", "GE", "GET", "GET /v1/cred", "GET / HTTP/1.", "GET / HTTP/1.1\r"]) {
      const parser = new RequestParser(LIMITS);
      parser.push(bytes(start));
      expect({ start, kind: parser.next().kind }).toEqual({ start, kind: "head" });
    }
  });

  test("a head past the limit, with or without its end, is too large", () => {
    expect(firstError(`GET / HTTP/1.1\r\nX-Big: ${"a".repeat(20_000)}`)).toMatchObject({ code: "headers_too_large" });
    expect(firstError(`GET / HTTP/1.1\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`)).toMatchObject({ code: "headers_too_large" });
  });

  test("a body past the limit is refused from its Content-Length, or when the chunks pass it", () => {
    expect(firstError("POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n")).toMatchObject({ code: "payload_too_large" });
    const chunk = `8000\r\n${"x".repeat(0x8000)}\r\n`;
    expect(firstError(`POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}${chunk}${chunk}0\r\n\r\n`)).toMatchObject({
      code: "payload_too_large",
    });
  });
});

test("wipe empties the buffer", () => {
  const parser = new RequestParser(LIMITS);
  parser.push(bytes("POST /v1/unlock HTTP/1.1\r\nContent-Length: 100\r\n\r\nsecret"));
  expect(parser.buffered).toBeGreaterThan(0);
  parser.wipe();
  expect(parser.buffered).toBe(0);
});
