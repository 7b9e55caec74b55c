import { CredagentError, describe } from "../errors.ts";
import type { InteractiveTokenSource, LoginChallenge, Token } from "../sources/source.ts";

// One credential's interactive sign-in (device_code): at most one under way, a newer one replacing
// it, its outcome kept for `credagent login` to poll. The credential decides what the token is for.

export type LoginStatus = { status: "none" | "pending" | "done" | "failed"; message: string | null; expiresAt: number | null };

interface LoginState {
  status: "pending" | "done" | "failed";
  message: string | null;
  abort: AbortController;
  expiresAt: number;
}

export class DeviceLogin {
  #state: LoginState | undefined;

  /**
   * Starts a sign-in at the source, replacing one under way. The token it brings goes to
   * `onToken` if this sign-in is still the current one and `stillWanted()` agrees (the agent was
   * not locked meanwhile).
   */
  async start(
    source: InteractiveTokenSource,
    now: () => number,
    onToken: (token: Token) => void,
    stillWanted: () => boolean,
  ): Promise<Omit<LoginChallenge, "completion">> {
    this.#state?.abort.abort(new CredagentError("unavailable", "a newer login replaced this one"));
    const abort = new AbortController();
    const challenge = await source.login({ signal: abort.signal, now: now() });
    const state: LoginState = { status: "pending", message: null, abort, expiresAt: now() + challenge.expiresIn * 1000 };
    this.#state = state;
    challenge.completion.then(
      (token) => {
        if (this.#state !== state || !stillWanted()) return;
        state.status = "done";
        onToken(token);
      },
      (err) => {
        if (this.#state !== state) return;
        state.status = "failed";
        state.message = describe(err);
      },
    );
    const { completion: _, ...info } = challenge;
    return info;
  }

  status(): LoginStatus {
    const state = this.#state;
    return state
      ? { status: state.status, message: state.message, expiresAt: state.expiresAt }
      : { status: "none", message: null, expiresAt: null };
  }

  /** Ends a sign-in under way (lock, stop), with why. */
  cancel(reason: CredagentError, forget: boolean): void {
    this.#state?.abort.abort(reason);
    if (forget) this.#state = undefined;
  }
}
