import { describe, expect, test } from "bun:test";
import { encodeJsonWithSecrets, JsonSyntaxError, parseJsonWithSecrets } from "../../src/secret-json.ts";
import { Secret } from "../../src/secret.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("encodeJsonWithSecrets", () => {
  test("writes a Secret from its bytes as a JSON string, escaping what JSON requires", () => {
    const tricky = 'a"b\\c\u0001d\u00e9\ud83d\ude00';
    const out = encodeJsonWithSecrets({ name: "db", token: new Secret(tricky), n: 3, ok: true, none: null });
    expect(JSON.parse(text(out))).toEqual({ name: "db", token: tricky, n: 3, ok: true, none: null });
  });
  test("an empty object", () => {
    expect(text(encodeJsonWithSecrets({}))).toBe("{}");
  });
});

describe("parseJsonWithSecrets", () => {
  test("top-level secret members come back as bytes and are left out of the value", () => {
    const r = parseJsonWithSecrets(
      bytes(' { "access_token" : "tok\\"en\\u00e9\\ud83d\\ude00", "expires_in": 60, "nested": {"access_token": "x", "a": [1, "]"]} } '),
      ["access_token"],
    );
    expect(text(r.secrets.get("access_token")!)).toBe('tok"en\u00e9\ud83d\ude00');
    expect(r.value).toEqual({ expires_in: 60, nested: { access_token: "x", a: [1, "]"] } });
  });
  test("a secret key whose value is not a string stays in the value", () => {
    const r = parseJsonWithSecrets(bytes('{"token": 5}'), ["token"]);
    expect(r.secrets.size).toBe(0);
    expect(r.value).toEqual({ token: 5 });
  });
  test("malformed input is a JsonSyntaxError that does not quote it", () => {
    for (const bad of [
      '{"token":"secret-value"',
      '{"token":"secret-value",}',
      '["secret-value"]',
      '{"token":"secret-value" x}',
      "{'a':1}",
    ]) {
      let caught: unknown;
      try {
        parseJsonWithSecrets(bytes(bad), ["token"]);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(JsonSyntaxError);
      expect((caught as Error).message).not.toContain("secret-value");
    }
  });
  test("round trip with encode", () => {
    const out = encodeJsonWithSecrets({ v: 1, token: new Secret("t0k\\en"), fingerprint: "f" });
    const r = parseJsonWithSecrets(out, ["token"]);
    expect(text(r.secrets.get("token")!)).toBe("t0k\\en");
    expect(r.value).toEqual({ v: 1, fingerprint: "f" });
  });
});

describe("Secret", () => {
  test("wipe() zeroes the bytes and makes the value unreadable", () => {
    const raw = bytes("hunter2");
    const s = new Secret(raw);
    expect(s.reveal()).toBe("hunter2");
    s.wipe();
    expect([...raw].every((b) => b === 0)).toBe(true);
    expect(s.wiped).toBe(true);
    expect(() => s.reveal()).toThrow("dropped from memory");
  });
  test("equals compares values", () => {
    expect(new Secret("a").equals(new Secret("a"))).toBe(true);
    expect(new Secret("a").equals(new Secret("ab"))).toBe(false);
  });
});
