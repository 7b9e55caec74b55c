import { describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { parseTokenOutput } from "../../../src/sources/token-output.ts";

const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);
const DEFAULT = 300_000;

describe("parseTokenOutput", () => {
  test("a bare token gets the default lifetime", () => {
    const t = parseTokenOutput("abc.def\n", NOW, DEFAULT);
    expect(t.value.reveal()).toBe("abc.def");
    expect(t.tokenType).toBe("Bearer");
    expect(t.expiresAt).toBe(NOW + DEFAULT);
  });

  test("a bare JWT uses its exp", async () => {
    const exp = Math.floor(NOW / 1000) + 1234;
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setExpirationTime(exp).sign(new Uint8Array(32));
    expect(parseTokenOutput(jwt, NOW, DEFAULT).expiresAt).toBe(exp * 1000);
  });

  test("OAuth token response: access_token, expires_in, token_type", () => {
    const t = parseTokenOutput('{"access_token":"x","expires_in":3600,"token_type":"DPoP"}', NOW, DEFAULT);
    expect(t.value.reveal()).toBe("x");
    expect(t.tokenType).toBe("DPoP");
    expect(t.expiresAt).toBe(NOW + 3_600_000);
  });

  test("Azure CLI: accessToken with expires_on epoch seconds wins over local expiresOn", () => {
    const t = parseTokenOutput(
      '{"accessToken":"az","expiresOn":"2026-11-24 13:00:00.000000","expires_on":1795500000,"tokenType":"Bearer"}',
      NOW,
      DEFAULT,
    );
    expect(t.value.reveal()).toBe("az");
    expect(t.expiresAt).toBe(1795500000 * 1000);
  });

  test("Azure CLI's zone-less expiresOn is local time", () => {
    const t = parseTokenOutput('{"accessToken":"az","expiresOn":"2026-11-24 13:00:00.123456"}', NOW, DEFAULT);
    expect(t.expiresAt).toBe(new Date(2026, 10, 24, 13, 0, 0, 123).getTime());
  });

  test("expires_at as RFC 3339 and token as the key", () => {
    const t = parseTokenOutput('{"token":"t","expires_at":"2026-11-24T13:00:00Z"}', NOW, DEFAULT);
    expect(t.expiresAt).toBe(Date.UTC(2026, 10, 24, 13));
  });

  test("expires_in as a numeric string", () => {
    expect(parseTokenOutput('{"token":"t","expires_in":"60"}', NOW, DEFAULT).expiresAt).toBe(NOW + 60_000);
  });

  test("errors never quote the output", () => {
    const secretish = "s3cr3t-value-that-must-not-leak";
    for (const out of ["", `{"access_token": "${secretish}"`, `["${secretish}"]`, `{"nothing":"${secretish}"}`, `${secretish} and more`]) {
      let message = "";
      try {
        parseTokenOutput(out, NOW, DEFAULT);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe("");
      expect(message).not.toContain(secretish);
    }
  });
});

test("a JWT's exp caps a longer expires_in (providers count from their own whole-second iat)", async () => {
  const { SignJWT } = await import("jose");
  const exp = Math.floor(NOW / 1000) + 2;
  const jwt = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setExpirationTime(exp).sign(new Uint8Array(32));
  expect(parseTokenOutput(JSON.stringify({ access_token: jwt, expires_in: 3 }), NOW, DEFAULT).expiresAt).toBe(exp * 1000);
  expect(parseTokenOutput(JSON.stringify({ access_token: jwt, expires_in: 1 }), NOW, DEFAULT).expiresAt).toBe(NOW + 1000);
});

describe("credentials with more than one part", () => {
  test("username and password: a password credential (user or username), the password as bytes", () => {
    const t = parseTokenOutput(JSON.stringify({ username: "app", password: 'p:w"d', expires_in: 20 }), NOW, DEFAULT);
    expect(t.kind).toBe("password");
    expect(t.username).toBe("app");
    expect(t.value.reveal()).toBe('p:w"d');
    expect(t.expiresAt).toBe(NOW + 20_000);
    expect(parseTokenOutput('{"user":"u","password":"x"}', NOW, DEFAULT)).toMatchObject({
      kind: "password",
      username: "u",
      expiresAt: NOW + DEFAULT,
    });
    // A password alone is a password credential too; the config's username may go with it.
    expect(parseTokenOutput('{"password":"x"}', NOW, DEFAULT).username).toBeUndefined();
  });

  test("AWS credential_process output: key id, secret key, session token, Expiration", () => {
    const out = {
      Version: 1,
      AccessKeyId: "AKIAEXAMPLE",
      SecretAccessKey: "secret/key+1",
      SessionToken: "session==",
      Expiration: "2026-01-01T01:00:00Z",
    };
    const t = parseTokenOutput(JSON.stringify(out), NOW, DEFAULT);
    expect(t.kind).toBe("aws");
    expect(t.value.reveal()).toBe("secret/key+1");
    expect(t.aws?.accessKeyId).toBe("AKIAEXAMPLE");
    expect(t.aws?.sessionToken?.reveal()).toBe("session==");
    expect(t.expiresAt).toBe(Date.parse("2026-01-01T01:00:00Z"));
    // Long-term keys: no session token, no Expiration: the default lifetime.
    const long = parseTokenOutput(JSON.stringify({ Version: 1, AccessKeyId: "AKIA2", SecretAccessKey: "s" }), NOW, DEFAULT);
    expect(long.aws?.sessionToken).toBeUndefined();
    expect(long.expiresAt).toBe(NOW + DEFAULT);
  });

  test("incomplete AWS output is refused, saying what is missing and never quoting a secret", () => {
    const cases: Array<[object, string]> = [
      [{ Version: 2, AccessKeyId: "A", SecretAccessKey: "zzsecretzz" }, '"Version": 1'],
      [{ Version: 1, SecretAccessKey: "zzsecretzz" }, "AccessKeyId"],
      [{ Version: 1, AccessKeyId: "A" }, "SecretAccessKey"],
      [{ Version: 1, AccessKeyId: "A", SecretAccessKey: "zzsecretzz", Expiration: "soon" }, "Expiration"],
    ];
    for (const [out, says] of cases) {
      let message = "";
      try {
        parseTokenOutput(JSON.stringify(out), NOW, DEFAULT);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toContain(says);
      expect(message).not.toContain("zzsecretzz");
    }
  });
});
