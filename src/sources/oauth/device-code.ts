import { setTimeout as sleep } from "node:timers/promises";
import * as oauth from "oauth4webapi";
import { CredagentError } from "../../errors.ts";
import { Secret } from "../../secret.ts";
import { refreshAccount, type SecretStore } from "../../store/store.ts";
import type { FetchContext, IdTokenExchange, InteractiveTokenSource, LoginChallenge, Token } from "../source.ts";
import { clientAuthFor } from "./client-auth.ts";
import { providerError } from "./errors.ts";
import { idTokenExchange } from "./id-token.ts";
import type { OAuthOptions } from "./options.ts";
import { originOf, requestOptions, ServerMetadata } from "./server.ts";
import { toToken, tokenParameters } from "./token.ts";
import { systemClock, type Clock } from "../../time/clock.ts";

// RFC 8628: without an interval from the server, clients poll every 5 s; slow_down adds 5 s.
const DEFAULT_INTERVAL_S = 5;
const SLOW_DOWN_S = 5;

/** The wait between polls: injected so that tests run the protocol's waits without spending them. */
export type PollSleep = (ms: number, signal: AbortSignal) => Promise<void>;

/**
 * `grant = "device_code"`: a person signs in once (`credagent login NAME`); after that the agent
 * refreshes with the refresh token kept in the store, storing each rotated one at once.
 */
export function deviceCodeSource(
  options: OAuthOptions,
  store: SecretStore,
  pollSleep: PollSleep = abortableSleep,
  clock: Pick<Clock, "now"> = systemClock,
): InteractiveTokenSource & IdTokenExchange {
  const metadata = new ServerMetadata(options);
  const client: oauth.Client = { client_id: options.clientId };
  const errorContext = { name: options.name, origin: originOf(options), timeoutMs: options.httpTimeoutMs };

  async function keepRefreshToken(body: oauth.TokenEndpointResponse, previous?: Secret): Promise<void> {
    if (body.refresh_token && body.refresh_token !== previous?.reveal()) {
      await store.set(refreshAccount(options.name), new Secret(body.refresh_token));
    }
  }

  return {
    kind: "oauth2",
    ...idTokenExchange(options, store, metadata),
    async fetchToken(ctx: FetchContext): Promise<Token> {
      const refreshToken = await store.get(refreshAccount(options.name));
      if (!refreshToken) {
        // Signed in while the other store was in use: its refresh token is there, not lost.
        const other = await store.elsewhere?.(refreshAccount(options.name)).catch(() => null);
        throw new CredagentError(
          "login_required",
          other
            ? `'${options.name}' signed in with ${other}, not the store in use: move it with: credagent secret move ${options.name} --to ${store.backend}, or run: credagent login ${options.name}`
            : `'${options.name}' has not signed in yet; run: credagent login ${options.name}`,
        );
      }
      try {
        const as = await metadata.get(ctx.signal);
        const auth = await clientAuthFor(options, store);
        const response = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken.reveal(), {
          additionalParameters: tokenParameters({ resource: options.resource, audience: options.audience }),
          ...requestOptions(options, ctx.signal, as.token_endpoint!),
        });
        const body = await oauth.processRefreshTokenResponse(as, client, response);
        // Stored before the token is handed out: a crash now must not leave us holding a
        // refresh token the provider has already retired.
        await keepRefreshToken(body, refreshToken);
        return toToken(body, ctx.now, options.defaultLifetimeMs);
      } catch (err) {
        throw providerError(err, { ...errorContext, refreshing: true });
      }
    },

    async login(ctx: FetchContext): Promise<LoginChallenge> {
      let as: oauth.AuthorizationServer;
      let auth: oauth.ClientAuth;
      let started: oauth.DeviceAuthorizationResponse;
      try {
        as = await metadata.get(ctx.signal);
        if (!as.device_authorization_endpoint) {
          throw new CredagentError(
            "source_failed",
            `the identity provider of '${options.name}' has no device authorization endpoint; set device_authorization_endpoint in the config`,
          );
        }
        auth = await clientAuthFor(options, store);
        const response = await oauth.deviceAuthorizationRequest(
          as,
          client,
          auth,
          tokenParameters(options),
          requestOptions(options, ctx.signal, as.device_authorization_endpoint),
        );
        started = await oauth.processDeviceAuthorizationResponse(as, client, response);
      } catch (err) {
        throw providerError(err, errorContext);
      }
      const completion = (async () => {
        let interval = started.interval ?? DEFAULT_INTERVAL_S;
        const deadline = ctx.now + started.expires_in * 1000;
        for (;;) {
          await pollSleep(interval * 1000, ctx.signal);
          if (clock.now() > deadline) break;
          try {
            const response = await oauth.deviceCodeGrantRequest(
              as,
              client,
              auth,
              started.device_code,
              requestOptions(options, ctx.signal, as.token_endpoint!),
            );
            const body = await oauth.processDeviceCodeResponse(as, client, response);
            await keepRefreshToken(body);
            return toToken(body, clock.now(), options.defaultLifetimeMs);
          } catch (err) {
            if (err instanceof oauth.ResponseBodyError) {
              if (err.error === "authorization_pending") continue;
              if (err.error === "slow_down") {
                interval += SLOW_DOWN_S;
                continue;
              }
              if (err.error === "access_denied")
                throw new CredagentError("login_required", `the sign-in for '${options.name}' was denied at the identity provider`);
              if (err.error === "expired_token") break;
            }
            throw providerError(err, errorContext);
          }
        }
        throw new CredagentError(
          "login_required",
          `the code for '${options.name}' expired before it was approved; run credagent login ${options.name} again`,
        );
      })();
      completion.catch(() => {});
      return {
        userCode: started.user_code,
        verificationUri: started.verification_uri,
        verificationUriComplete: started.verification_uri_complete,
        expiresIn: started.expires_in,
        interval: started.interval ?? DEFAULT_INTERVAL_S,
        completion,
      };
    },
  };
}

/** node:timers/promises' abortable sleep, rejecting with the abort's own reason (what the login was stopped for). */
function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal }).catch((err) => {
    throw signal.aborted ? signal.reason : err;
  });
}
