import { CredagentError } from "../errors.ts";
import type { Secret } from "../secret.ts";
import type { CredentialKind } from "../wire/types.ts";

/**
 * A short-lived credential as a source hands it over. Times are epoch milliseconds.
 * `value` is the secret a program sends: a bearer token, a password, or an AWS secret access key.
 */
export interface Token {
  value: Secret;
  tokenType: string;
  obtainedAt: number;
  expiresAt: number;
  /** What `value` is (absent: bearer). */
  kind?: CredentialKind;
  /** The user name that goes with the secret: a password's, or one the config fixes. Not a secret. */
  username?: string;
  /** kind "aws": the key id (an identifier, not a secret) and the session token of temporary keys. */
  aws?: { accessKeyId: string; sessionToken?: Secret };
}

/** Zeroes every secret part of a token. */
export function wipeToken(token: Token): void {
  token.value.wipe();
  token.aws?.sessionToken?.wipe();
}

export interface FetchContext {
  /** Aborted when the agent gives up on the fetch (timeout, shutdown, config reload). */
  signal: AbortSignal;
  now: number;
}

/** One way of obtaining tokens. Sources know nothing of caching, scheduling or sockets. */
export interface TokenSource {
  /** The `source` name of the config, e.g. "command". */
  readonly kind: string;
  /** False when the value already lives in the store (static): it is not cached there again. */
  readonly persist?: boolean;
  fetchToken(ctx: FetchContext): Promise<Token>;
}

/** What a person needs to approve a device login (RFC 8628), and the token it will bring. */
export interface LoginChallenge {
  userCode: string;
  verificationUri: string;
  verificationUriComplete?: string;
  expiresIn: number;
  interval: number;
  completion: Promise<Token>;
}

/** A source that signs in interactively (device_code) before it can refresh on its own. */
export interface InteractiveTokenSource extends TokenSource {
  login(ctx: FetchContext): Promise<LoginChallenge>;
}

export function isInteractive(source: TokenSource): source is InteractiveTokenSource {
  return typeof (source as Partial<InteractiveTokenSource>).login === "function";
}

/**
 * A failure that will not heal by itself: a secret that is not stored, a client or scope the
 * identity provider rejects, a program that does not exist. The agent does not retry it in the
 * background (every 2 minutes, forever); a request, `credagent refresh`, a changed secret or a
 * reload tries again.
 */
export class CannotHealError extends CredagentError {}

export function cannotHeal(err: unknown): boolean {
  return err instanceof CannotHealError || (err instanceof CredagentError && err.code === "config_invalid");
}
