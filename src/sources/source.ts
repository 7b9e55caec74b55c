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
  /** kind "kerberos": the ticket's cache (whose KRB5CCNAME is also `value`) and what a service ticket needs. */
  kerberos?: KerberosTicket;
  /** The OpenID Connect id_token that came with an oauth2 access token (its audience is the client id). */
  idToken?: Secret;
}

/** What a kerberos token carries besides the cache's name; nothing here is a secret (the tickets are in the file). */
export interface KerberosTicket {
  principal: string;
  /** KRB5CCNAME for the cache: `FILE:/…`. */
  ccache: string;
  /** The Kerberos configuration files (colon-separated) the ticket was obtained with, for service tickets. */
  profile: string;
  /** Until when the ticket can be renewed (epoch ms), or null when it is not renewable. */
  renewUntil: number | null;
}

/** Zeroes every secret part of a token. */
export function wipeToken(token: Token): void {
  token.value.wipe();
  token.aws?.sessionToken?.wipe();
  token.idToken?.wipe();
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
  /** The ticket cache the source keeps for programs to read (kerberos: what KRB5CCNAME names). */
  readonly ticketCache?: string;
  fetchToken(ctx: FetchContext): Promise<Token>;
  /**
   * Removes what the source keeps outside the agent's memory (a ticket cache file): called when
   * the credential is forgotten (lock) or stopped (agent stop, removed or changed by a reload).
   */
  discard?(): void;
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

/** A source that can get an ID token for another audience with an access token of its own (RFC 8693). */
export interface IdTokenExchange {
  /** value is the ID token (a JWT); throws a bad_request CredagentError when the provider offers no exchange. */
  exchangeIdToken(ctx: FetchContext, subject: Token, audience: string): Promise<Token>;
}

export function canExchangeIdTokens(source: TokenSource): source is TokenSource & IdTokenExchange {
  return typeof (source as Partial<IdTokenExchange>).exchangeIdToken === "function";
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
