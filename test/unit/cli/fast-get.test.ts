import { expect, test } from "bun:test";
import { parseResponse } from "../../../src/cli/fast-get.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

test("a chunked answer (what the agent's node:http server sends), a Content-Length one, and WWW-Authenticate", () => {
  const chunked =
    'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{"a":"b\r\n5\r\nc\u00e9"}\r\n0\r\n\r\n';
  expect(parseResponse(bytes(chunked))).toEqual({ status: 200, body: '{"a":"bcé"}', authenticate: false });
  const sized = 'HTTP/1.1 403 Forbidden\r\nWWW-Authenticate: Bearer realm="credagent"\r\nContent-Length: 2\r\n\r\n{}';
  expect(parseResponse(bytes(sized))).toEqual({ status: 403, body: "{}", authenticate: true });
});

test("anything else is null, never a guess: no status line, a cut body, a bad chunk size, no framing", () => {
  expect(parseResponse(bytes("garbage"))).toBeNull();
  expect(parseResponse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}"))).toBeNull();
  expect(parseResponse(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"))).toBeNull();
  expect(parseResponse(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{}"))).toBeNull();
  expect(parseResponse(bytes("HTTP/1.1 200 OK\r\n\r\n{}"))).toBeNull();
  expect(parseResponse(bytes("SSH-2.0-x 200 \r\n\r\n"))).toBeNull();
});

test("its copies of the API prefix and the credential name pattern are the wire's", async () => {
  const fast = await import("../../../src/cli/fast-get.ts");
  const wire = await import("../../../src/wire/types.ts");
  expect(fast.API_PREFIX).toBe(wire.API_PREFIX);
  expect(fast.CREDENTIAL_NAME.source).toBe(wire.CREDENTIAL_NAME.source);
  expect(fast.CREDENTIAL_NAME.flags).toBe(wire.CREDENTIAL_NAME.flags);
});
