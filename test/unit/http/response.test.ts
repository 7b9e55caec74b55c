import { expect, test } from "bun:test";
import { errorAnswer, serializeResponse } from "../../../src/http/response.ts";
import { SecretBodyResponse, secretJsonResponse, secretTextResponse } from "../../../src/http/secret-response.ts";
import { Secret } from "../../../src/secret.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

test("an answer in one buffer: status line, the response's headers, always a Content-Length, the framing our own", async () => {
  const r = new Response("hello", { status: 201, headers: { "X-A": "b", "Content-Length": "999", "Transfer-Encoding": "chunked" } });
  const out = text(await serializeResponse(r, { keepAlive: true, version: "1.1", omitBody: false }));
  expect(out).toStartWith("HTTP/1.1 201 Created\r\n");
  expect(out).toContain("x-a: b\r\n");
  expect(out).toContain("Content-Length: 5\r\n");
  expect(out).not.toContain("999");
  expect(out.toLowerCase()).not.toContain("transfer-encoding");
  expect(out).not.toContain("Connection:");
  expect(out).toEndWith("\r\n\r\nhello");
});

test("Connection: close when not kept alive; keep-alive said to an HTTP/1.0 client; HEAD keeps the length and drops the body", async () => {
  const close = text(await serializeResponse(new Response("x"), { keepAlive: false, version: "1.1", omitBody: false }));
  expect(close).toContain("Connection: close\r\n");
  const old = text(await serializeResponse(new Response("x"), { keepAlive: true, version: "1.0", omitBody: false }));
  expect(old).toContain("Connection: keep-alive\r\n");
  const head = text(await serializeResponse(new Response("hello"), { keepAlive: true, version: "1.1", omitBody: true }));
  expect(head).toContain("Content-Length: 5\r\n");
  expect(head).toEndWith("\r\n\r\n");
});

test("an error answer: the status, a JSON body and the close", () => {
  const out = text(errorAnswer(408, '{"error":{"code":"request_timeout","message":"m"}}'));
  expect(out).toStartWith("HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n");
  expect(out).toContain("Connection: close\r\n\r\n{");
});

test("a secret's answer: the runtime's Response holds no body; the server writes the secret's bytes and zeroes them; read as a Response, copies", async () => {
  const answer = secretJsonResponse({ token: new Secret("s3cret-token"), expires_in: 60 });
  expect(answer).toBeInstanceOf(SecretBodyResponse);
  expect(answer.body).toBeNull();
  expect(await answer.json()).toEqual({ token: "s3cret-token", expires_in: 60 });
  const held = (answer as SecretBodyResponse).secretBody;
  const wire = new TextDecoder().decode(await serializeResponse(answer, { keepAlive: true, version: "1.1", omitBody: false }));
  expect(wire).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  expect(wire).toContain("cache-control: no-store\r\n");
  expect(wire.endsWith('\r\n\r\n{"token":"s3cret-token","expires_in":60}')).toBe(true);
  expect(held.every((b) => b === 0)).toBe(true);

  const id = secretTextResponse(new Secret("id.token.sig"));
  expect(await id.text()).toBe("id.token.sig");
  const head = new TextDecoder().decode(await serializeResponse(id, { keepAlive: true, version: "1.1", omitBody: true }));
  expect(head).toContain("Content-Length: 12\r\n");
  expect(head).not.toContain("id.token.sig");
  expect((id as SecretBodyResponse).secretBody.every((b) => b === 0)).toBe(true);
});
