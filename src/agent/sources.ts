// The composition of config and sources: the one place that turns a checked credential config
// into its source. Sources take their own options and never import the config.
import type { CredentialConfig } from "../config/load.ts";
import type { SecretStore } from "../store/store.ts";
import { commandSource } from "../sources/command.ts";
import { clientCredentialsSource } from "../sources/oauth/client-credentials.ts";
import { deviceCodeSource } from "../sources/oauth/device-code.ts";
import { staticSource } from "../sources/static.ts";
import { kerberosSource } from "../sources/kerberos.ts";
import { workerKdc } from "../kerberos/kdc.ts";
import { ticketCacheDir } from "../kerberos/profile.ts";
import { currentPathEnv } from "../paths.ts";
import { isInteractive, type InteractiveTokenSource, type TokenSource } from "../sources/source.ts";

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
      return config.grant === "device_code"
        ? deviceCodeSource(options, environment.store)
        : clientCredentialsSource(options, environment.store);
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

/** The stored secrets a configured source reads at each fetch (`secret:<name>`, see store.ts), by name. */
export function secretsUsedBy(config: CredentialConfig): string[] {
  const uses =
    config.source === "static" ||
    (config.source === "oauth2" && config.clientAuth !== "none") ||
    (config.source === "kerberos" && config.keytab === undefined);
  return uses ? [config.name] : [];
}
