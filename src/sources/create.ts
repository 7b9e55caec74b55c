import type { CredentialConfig } from "../config/load.ts";
import { commandSource } from "./command.ts";
import type { TokenSource } from "./source.ts";

export interface SourceEnvironment {
  env: Record<string, string | undefined>;
}

/** The one place that maps a configured `source` to its implementation. */
export function createSource(config: CredentialConfig, environment: SourceEnvironment): TokenSource {
  switch (config.source) {
    case "command":
      return commandSource({ command: config.command, defaultLifetimeMs: config.lifetimeMs, env: environment.env });
  }
}
