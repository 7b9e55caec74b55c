import { absentAdvice } from "../store/absent.ts";
import { secretAccount, type SecretStore } from "../store/store.ts";
import { CannotHealError, type FetchContext, type Token, type TokenSource } from "./source.ts";

/**
 * `source = "static"`: a long-lived secret from the store (a database password for an app that
 * cannot use tokens yet), served like a token. Re-read every `lifetime`, so a `secret set`
 * reaches a running agent without a restart.
 */
export function staticSource(name: string, lifetimeMs: number, store: SecretStore): TokenSource {
  return {
    kind: "static",
    persist: false,
    async fetchToken(ctx: FetchContext): Promise<Token> {
      const value = await store.get(secretAccount(name));
      if (!value) {
        const advice = await absentAdvice(store, secretAccount(name), name, `set one with: credagent secret set ${name}`);
        throw new CannotHealError("source_failed", `no secret is stored for '${name}' in ${store.description}${advice}`);
      }
      return { value, tokenType: "static", obtainedAt: ctx.now, expiresAt: ctx.now + lifetimeMs };
    },
  };
}
