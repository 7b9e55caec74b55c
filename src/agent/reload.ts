import { resolve } from "node:path";
import { loadConfig, type AgentConfig } from "../config/load.ts";
import { restartNotice, startOnlyChanges } from "../config/start-only.ts";
import { describeSectionChange, sectionChanges } from "../config/changes.ts";
import { CredagentError, describe } from "../errors.ts";
import type { CredentialRegistry } from "../refresh/registry.ts";
import type { SecretStore } from "../store/store.ts";
import type { ConfigStatus, ReloadResponse } from "../wire/types.ts";
import { toDefinitions } from "./definitions.ts";
import type { Logger } from "../log/log.ts";

export interface ConfigReloaderDeps {
  location: { path: string; explicit: boolean };
  /** The config the agent started with: start-only settings are compared against it. */
  initial: AgentConfig;
  registry: Pick<CredentialRegistry, "apply">;
  store: SecretStore;
  env: Record<string, string | undefined>;
  log: Logger;
  now: () => number;
  /** Told each config that is loaded and applied (what else follows the config: connections). */
  onApplied?: (config: AgentConfig) => void;
}

/**
 * The config in force and its reload, for SIGHUP and `credagent reload` alike: both log the
 * same outcome, and a failed load leaves the previous config in force.
 */
export class ConfigReloader {
  readonly #deps: ConfigReloaderDeps;
  readonly #path: string;
  #exists: boolean;
  #loadedAt: number;
  #lastError: string | null = null;
  #lastAttempt: number | null = null;
  #current: AgentConfig;

  constructor(deps: ConfigReloaderDeps) {
    this.#deps = deps;
    this.#path = resolve(deps.location.path);
    this.#exists = deps.initial.path !== null;
    this.#loadedAt = deps.now();
    this.#current = deps.initial;
  }

  /** The config in force: the last one loaded successfully. */
  get current(): AgentConfig {
    return this.#current;
  }

  status(): ConfigStatus {
    return {
      path: this.#path,
      exists: this.#exists,
      loaded_at: new Date(this.#loadedAt).toISOString(),
      last_reload_error: this.#lastError,
      last_reload_at: this.#lastAttempt === null ? null : new Date(this.#lastAttempt).toISOString(),
    };
  }

  reload(): ReloadResponse {
    const { location, registry, store, env, log, now } = this.#deps;
    this.#lastAttempt = now();
    let config: AgentConfig;
    let result: ReturnType<CredentialRegistry["apply"]>;
    try {
      config = loadConfig(location.path, location.explicit);
      result = registry.apply(toDefinitions(config, env, store));
    } catch (err) {
      this.#lastError = describe(err);
      log.error("config reload failed; the previous config stays in force", { error: this.#lastError });
      throw new CredagentError(
        "config_invalid",
        `${this.#lastError}\nthe previous config stays in force; fix the file and run 'credagent reload' again`,
        { cause: err },
      );
    }
    this.#lastError = null;
    // Against the config in force until now: what this reload changed.
    const sections = sectionChanges(this.#current, config);
    this.#current = config;
    this.#deps.onApplied?.(config);
    this.#exists = config.path !== null;
    this.#loadedAt = this.#lastAttempt;
    // Against the config the agent started with: that is what it still runs with.
    const startOnly = startOnlyChanges(this.#deps.initial, config);
    log.info("config reloaded", {
      added: result.added.join(",") || "-",
      changed: result.changed.join(",") || "-",
      removed: result.removed.join(",") || "-",
      kept: result.kept.length,
      ...Object.fromEntries(sections.map((c) => [c.section, describeSectionChange(c)])),
    });
    if (startOnly.length > 0) log.warn(restartNotice(startOnly));
    return { config: this.status(), ...result, start_only_changed: startOnly, sections };
  }
}
