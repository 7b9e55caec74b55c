import type { CredentialConfig } from "../config/load.ts";
import type { SecretStore } from "../store/store.ts";
import { commandSource } from "./command.ts";
import { clientCredentialsSource } from "./oauth/client-credentials.ts";
import { deviceCodeSource } from "./oauth/device-code.ts";
import { staticSource } from "./static.ts";
import type { TokenSource } from "./source.ts";

export interface SourceEnvironment {
  env: Record<string, string | undefined>;
  store: SecretStore;
}

/** The one place that maps a configured `source` to its implementation. */
export function createSource(config: CredentialConfig, environment: SourceEnvironment): TokenSource {
  switch (config.source) {
    case "command":
      return commandSource({ command: config.command, defaultLifetimeMs: config.lifetimeMs, env: environment.env });
    case "static":
      return staticSource(config.name, config.lifetimeMs, environment.store);
    case "oauth2": {
      const options = { ...config, defaultLifetimeMs: config.lifetimeMs };
      return config.grant === "device_code" ? deviceCodeSource(options, environment.store) : clientCredentialsSource(options, environment.store);
    }
  }
}

/** The stored secrets a configured source reads at each fetch (`secret:<name>`, see store.ts), by name. */
export function secretsUsedBy(config: CredentialConfig): string[] {
  const uses = config.source === "static" || (config.source === "oauth2" && config.clientAuth !== "none");
  return uses ? [config.name] : [];
}
