import { describe, expect, test } from "bun:test";
import { CredagentError } from "../../../src/errors.ts";
import { ManagedCredential } from "../../../src/refresh/credential.ts";
import { DEFAULT_POLICY } from "../../../src/refresh/policy.ts";
import { Secret } from "../../../src/secret.ts";
import type { FetchContext, IdTokenExchange, Token, TokenSource } from "../../../src/sources/source.ts";
import { FakeClock, settle } from "../../support/fake-clock.ts";

// ID tokens from a credential: its own id_token when it names the audience, else one exchanged per
// audience, kept until its refresh time, fetched once for concurrent callers, zeroed at forget().

const jwt = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

class OidcSource implements TokenSource, IdTokenExchange {
  readonly kind = "oauth2";
  fetches = 0;
  exchanges: string[] = [];
  exchangeDelayMs = 0;
  failExchange: Error | undefined;
  constructor(private readonly clock: FakeClock) {}

  async fetchToken(ctx: FetchContext): Promise<Token> {
    this.fetches += 1;
    const exp = Math.floor(ctx.now / 1000) + 3600;
    return {
      value: new Secret(`access-${this.fetches}`),
      tokenType: "Bearer",
      obtainedAt: ctx.now,
      expiresAt: exp * 1000,
      idToken: new Secret(jwt({ aud: "client-1", exp, n: this.fetches })),
    };
  }

  async exchangeIdToken(ctx: FetchContext, subject: Token, audience: string): Promise<Token> {
    this.exchanges.push(`${subject.value.reveal()}>${audience}`);
    if (this.exchangeDelayMs > 0) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.exchangeDelayMs));
    if (this.failExchange) throw this.failExchange;
    const now = this.clock.now();
    return {
      value: new Secret(jwt({ aud: audience, n: this.exchanges.length })),
      tokenType: "Bearer",
      obtainedAt: now,
      expiresAt: now + 600_000,
    };
  }
}

function setup() {
  const clock = new FakeClock();
  const source = new OidcSource(clock);
  const credential = new ManagedCredential("idp", source, DEFAULT_POLICY, { clock, random: () => 0.5 });
  return { clock, source, credential };
}

describe("ManagedCredential.idToken", () => {
  test("the id_token that came with the access token, for its own audience: no exchange", async () => {
    const { source, credential } = setup();
    const token = await credential.idToken("client-1");
    expect(token.value.reveal()).toBe(
      jwt({ aud: "client-1", exp: JSON.parse(Buffer.from(token.value.reveal().split(".")[1]!, "base64url").toString()).exp, n: 1 }),
    );
    expect(source.exchanges).toEqual([]);
  });

  test("another audience: one exchange shared by concurrent callers, kept until its refresh time, then exchanged again", async () => {
    const { clock, source, credential } = setup();
    source.exchangeDelayMs = 500;
    const all = Promise.all(Array.from({ length: 10 }, () => credential.idToken("https://run.example")));
    await settle();
    await clock.advance(500);
    const tokens = await all;
    expect(new Set(tokens.map((t) => t.value.reveal())).size).toBe(1);
    expect(source.exchanges).toEqual(["access-1>https://run.example"]);
    await clock.advance(60_000);
    await credential.idToken("https://run.example");
    expect(source.exchanges).toHaveLength(1);
    // Past 70-80% of its 10 minutes: a new one.
    await clock.advance(8 * 60_000);
    const p = credential.idToken("https://run.example");
    await clock.advance(500);
    await p;
    expect(source.exchanges).toHaveLength(2);
    // Other audiences each have their own.
    const q = credential.idToken("https://other.example");
    await clock.advance(500);
    await q;
    expect(source.exchanges).toHaveLength(3);
  });

  test("a failed exchange is answered from memory for the retry floor, then tried again", async () => {
    const { clock, source, credential } = setup();
    source.failExchange = new CredagentError("bad_request", "no exchange here");
    await expect(credential.idToken("https://run.example")).rejects.toThrow("no exchange here");
    await expect(credential.idToken("https://run.example")).rejects.toThrow("no exchange here");
    expect(source.exchanges).toHaveLength(1);
    await clock.advance(DEFAULT_POLICY.retryFloorMs);
    source.failExchange = undefined;
    expect((await credential.idToken("https://run.example")).value.reveal()).toContain(".");
    expect(source.exchanges).toHaveLength(2);
  });

  test("forget() (lock) zeroes the ID tokens held, and an exchange under way brings none back", async () => {
    const { clock, source, credential } = setup();
    const kept = await credential.idToken("https://run.example");
    const own = await credential.idToken("client-1");
    source.exchangeDelayMs = 1_000;
    const pending = credential.idToken("https://other.example").catch((err: unknown) => err);
    await settle();
    credential.forget();
    expect(kept.value.wiped).toBe(true);
    expect(own.value.wiped).toBe(true);
    await clock.advance(1_000);
    expect(((await pending) as CredagentError).code).toBe("locked");
    // Afterwards it starts afresh.
    source.exchangeDelayMs = 0;
    const again = await credential.idToken("https://run.example");
    expect(again.value.wiped).toBe(false);
    expect(source.fetches).toBe(2);
  });

  test("a source that is not oauth2 cannot give ID tokens, and says so", async () => {
    const clock = new FakeClock();
    const source: TokenSource = {
      kind: "command",
      fetchToken: async (ctx) => ({ value: new Secret("t"), tokenType: "Bearer", obtainedAt: ctx.now, expiresAt: ctx.now + 60_000 }),
    };
    const credential = new ManagedCredential("cmd", source, DEFAULT_POLICY, { clock, random: () => 0.5 });
    await expect(credential.idToken("x")).rejects.toThrow(
      "its source is command, and only an oauth2 credential's identity provider issues them",
    );
  });
});
