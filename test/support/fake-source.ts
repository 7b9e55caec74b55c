import { Secret } from "../../src/secret.ts";
import type { FetchContext, Token, TokenSource } from "../../src/sources/source.ts";
import type { CredentialKind } from "../../src/wire/types.ts";
import type { FakeClock } from "./fake-clock.ts";

/** A source whose behaviour the test scripts: lifetime, failures, a delay on the fake clock. */
export class FakeSource implements TokenSource {
  readonly kind = "fake";
  calls = 0;
  lifetimeMs = 3_600_000;
  failWith: Error | undefined;
  delayMs = 0;
  /** What the tokens are ("aws": keys, with the key id key-N). */
  tokenKind: CredentialKind | undefined;

  constructor(private readonly clock: FakeClock) {}

  async fetchToken(ctx: FetchContext): Promise<Token> {
    this.calls += 1;
    const n = this.calls;
    if (this.delayMs > 0) {
      await new Promise<void>((resolve, reject) => {
        const cancel = this.clock.setTimeout(resolve, this.delayMs);
        ctx.signal.addEventListener("abort", () => {
          cancel();
          reject(ctx.signal.reason);
        });
      });
    }
    if (this.failWith) throw this.failWith;
    const now = this.clock.now();
    const token: Token = { value: new Secret(`token-${n}`), tokenType: "Bearer", obtainedAt: now, expiresAt: now + this.lifetimeMs };
    if (this.tokenKind) token.kind = this.tokenKind;
    if (this.tokenKind === "aws") token.aws = { accessKeyId: `key-${n}`, sessionToken: new Secret(`session-${n}`) };
    return token;
  }
}
