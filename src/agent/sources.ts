// The composition of config and sources: the one place that turns a checked credential config
// into its source. Sources take their own options and never import the config.
import type { CredentialConfig } from "../config/load.ts";
import type { SecretStore } from "../store/store.ts";
import { commandSource } from "../sources/command.ts";
import { staticSource } from "../sources/static.ts";
import { kerberosSource } from "../sources/kerberos.ts";
import { workerKdc } from "../kerberos/kdc.ts";
import { ticketCacheDir } from "../kerberos/profile.ts";
import { currentPathEnv } from "../paths.ts";
import {
  canExchangeIdTokens,
  type IdTokenExchange,
  isInteractive,
  type InteractiveTokenSource,
  type TokenSource,
} from "../sources/source.ts";

export interface SourceEnvironment {
  env: Record<string, string | undefined>;
  store: SecretStore;
}

/** The one place that maps a configured `source` to its implementation. */
export function createSource(config: CredentialConfig, environment: SourceEnvironment): TokenSource {
  const source = sourceFor(config, environment);
  return config.username === undefined ? source : withUsername(source, config.username);
}

/** The config's `username` goes with every token the source gives (in place of the source's own). */
function withUsername<S extends TokenSource>(source: S, username: string): S {
  const wrapped = Object.create(source) as S;
  wrapped.fetchToken = async (ctx) => ({ ...(await source.fetchToken(ctx)), username });
  if (isInteractive(source)) {
    (wrapped as unknown as InteractiveTokenSource).login = async (ctx) => {
      const challenge = await source.login(ctx);
      const completion = challenge.completion.then((token) => ({ ...token, username }));
      completion.catch(() => {}); // as the source's own: the credential awaits it
      return { ...challenge, completion };
    };
  }
  return wrapped;
}

function sourceFor(config: CredentialConfig, environment: SourceEnvironment): TokenSource {
  switch (config.source) {
    case "command":
      return commandSource({ command: config.command, defaultLifetimeMs: config.lifetimeMs, env: environment.env });
    case "static":
      return staticSource(config.name, config.lifetimeMs, environment.store);
    case "oauth2": {
      const options = { ...config, defaultLifetimeMs: config.lifetimeMs };
      // Loaded at the first fetch or sign-in (oauth4webapi, jose and node:crypto): an agent serving
      // cached tokens, or only other sources, does not load them at its start (issue 28).
      return config.grant === "device_code"
        ? loadedOnFirstUse(true, async () => (await import("../sources/oauth/device-code.ts")).deviceCodeSource(options, environment.store))
        : loadedOnFirstUse(false, async () =>
            (await import("../sources/oauth/client-credentials.ts")).clientCredentialsSource(options, environment.store),
          );
    }
    case "kerberos":
      return kerberosSource({
        ...config,
        cacheDir: ticketCacheDir({ ...currentPathEnv(), env: environment.env }),
        env: environment.env,
        store: environment.store,
        kdcClient: workerKdc(),
      });
  }
}

/**
 * An OAuth source whose code is loaded when it is first asked for a token, an ID token or a
 * sign-in. It has every capability the loaded source has (both OAuth grants exchange ID tokens).
 */
function loadedOnFirstUse(interactive: boolean, load: () => Promise<TokenSource>): TokenSource & IdTokenExchange {
  let loading: Promise<TokenSource> | undefined;
  const source = () => (loading ??= load());
  const lazy: TokenSource & IdTokenExchange = {
    kind: "oauth2",
    fetchToken: async (ctx) => (await source()).fetchToken(ctx),
    exchangeIdToken: async (ctx, subject, audience) => {
      const loaded = await source();
      if (!canExchangeIdTokens(loaded)) throw new Error("unreachable: an oauth2 source exchanges ID tokens");
      return loaded.exchangeIdToken(ctx, subject, audience);
    },
  };
  if (!interactive) return lazy;
  const login: InteractiveTokenSource["login"] = async (ctx) => {
    const loaded = await source();
    if (!isInteractive(loaded)) throw new Error("unreachable: a device_code source signs in");
    return loaded.login(ctx);
  };
  return Object.assign(lazy, { login });
}

/** The stored secrets a configured source reads at each fetch (`secret:<name>`, see store.ts), by name. */
export function secretsUsedBy(config: CredentialConfig): string[] {
  const uses =
    config.source === "static" ||
    (config.source === "oauth2" && config.clientAuth !== "none") ||
    (config.source === "kerberos" && config.keytab === undefined);
  return uses ? [config.name] : [];
}
