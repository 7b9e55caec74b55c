import type { AgentConfig } from "../config/load.ts";
import { ConnectionTable } from "../connections/table.ts";
import { describe } from "../errors.ts";
import { createKeptFiles, filePlaces } from "../files/agent.ts";
import { pgpassPath } from "../files/specs.ts";
import { AuditLog } from "../log/audit.ts";
import type { Logger } from "../log/log.ts";
import { stateDir, type PathEnv } from "../paths.ts";
import { desktopPrompt } from "../platform/desktop-prompt.ts";
import { createAccessControl } from "../policy/access.ts";
import { ConfirmationBroker } from "../policy/confirm.ts";
import { AgentLock } from "../policy/lock.ts";
import { systemClock } from "../time/clock.ts";
import { CredentialRegistry } from "../refresh/registry.ts";
import { persistToken, restoreTokens } from "../refresh/token-cache.ts";
import type { LazyStore } from "../store/open.ts";
import { toDefinitions } from "./definitions.ts";
import { ConfigReloader } from "./reload.ts";

// The agent's core, built after its store: the credentials (registry, with their cached tokens
// restored and prefetched), what they fill (connection strings, kept files), the audit log, the
// policy (access, confirm, lock) and the config reloader. Nothing here listens.

export interface Core {
  registry: CredentialRegistry;
  connections: ConnectionTable;
  files: ReturnType<typeof createKeptFiles>;
  audit: AuditLog;
  confirmations: ConfirmationBroker;
  lock: AgentLock;
  config: ConfigReloader;
  access: ReturnType<typeof createAccessControl>;
  /** The [databases] of the config in force (reloads change it; the endpoints are made at start). */
  databases(): AgentConfig["databases"];
  /** Begins reading the cached tokens (once the agent listens); until then their credentials wait. */
  beginRestore(): void;
  /** Settles once the cached tokens read at start are restored (or could not be). */
  restored: Promise<unknown>;
}

export interface CoreDeps {
  config: AgentConfig;
  location: { path: string; explicit: boolean };
  store: LazyStore;
  socketPath: string;
  pathEnv: PathEnv;
  log: Logger;
}

/** Builds the core; what it starts is released by `resources`, in reverse. */
export async function buildCore(deps: CoreDeps, resources: AsyncDisposableStack): Promise<Core> {
  const { config, store, log } = deps;
  const audit = new AuditLog(stateDir(deps.pathEnv), (err) => log.warn("cannot write the audit log", { error: describe(err) }));
  // Released last: the counts of repeated decisions still being counted are written too.
  resources.defer(() => {
    audit.flush({ closeWindows: true });
    audit.close();
  });

  // Built once the registry is (its tokens fill the files; its events rewrite them).
  let files!: ReturnType<typeof createKeptFiles>;
  const registry: CredentialRegistry = new CredentialRegistry({
    clock: systemClock,
    random: Math.random,
    onEvent: (event) => {
      if (event.kind === "fetched") {
        log.info("token obtained", { credential: event.name, expires_at: iso(event.token.expiresAt), refresh_at: iso(event.refreshAt) });
        const def = registry.definition(event.name);
        if (event.persist && def) persistToken(store, event.name, def.fingerprint, event.token, log);
        files.keeper.credentialChanged(event.name);
      } else if (event.kind === "restored") {
        // Restored while the kept files were already written without it (they waited for a value).
        files.keeper.credentialChanged(event.name);
      } else if (event.kind === "idle") {
        log.info("credential idle: not refreshed until asked for again", { credential: event.name, last_asked_at: iso(event.lastAskedAt) });
      } else {
        log.warn("token fetch failed", {
          credential: event.name,
          error: event.error,
          retry_at: event.retryAt ? iso(event.retryAt) : undefined,
        });
      }
    },
  });
  resources.defer(() => registry.stop());
  const places = filePlaces(deps.socketPath, deps.pathEnv);
  const connections = new ConnectionTable({ pgpassPath: pgpassPath(places) });
  files = createKeptFiles({ registry, connections, places, pathEnv: deps.pathEnv, env: process.env, log });
  // Released before the registry: a kept blank keeps its user names, which the registry's stop drops.
  resources.defer(() => files.keeper.stop());
  registry.apply(toDefinitions(config, process.env, store), { prefetch: false });
  // Cached tokens come back while the agent already serves: the reads begin once it listens
  // (beginRestore), so the store's opening (the keyring addon's load, D-Bus) is off the path of its
  // start, and a request for a credential waits only for that credential's entry. Those kept fresh
  // that the cache did not hold are fetched once the reads are done.
  let beginRestore!: () => void;
  const listening = new Promise<void>((resolve) => (beginRestore = resolve));
  const restored = restoreTokens(store, registry, Date.now(), log, { after: listening }).then((count) => {
    // Said also when none was: the line marks the end of the store's reads at start.
    log.info("cached tokens restored", { count });
    registry.prefetchAll();
  });
  connections.apply(config);
  files.apply(config);

  const confirmations = new ConfirmationBroker({
    timeoutMs: config.confirmTimeoutMs,
    log,
    desktopPrompt: (question, timeoutMs) => desktopPrompt(question, timeoutMs),
  });
  const lock = new AgentLock({
    hash: (passphrase) => Bun.password.hash(passphrase, { algorithm: "argon2id" }),
    verify: (passphrase, hash) => Bun.password.verify(passphrase, hash),
    now: Date.now,
    onLock: () => {
      // No secret stays on disk while locked (user names are read before the tokens go, for kept files' blanks).
      files.keeper.lock();
      registry.forgetAll();
      confirmations.forget();
      store.close();
      // What was dropped is collected now, not at some later allocation (strings the runtime
      // made on the way can only be freed, not zeroed; see the README on lock).
      Bun.gc(true);
      log.info("agent locked: tokens and secrets zeroed and dropped from memory");
    },
    onUnlock: async () => {
      const restored = await restoreTokens(store, registry, Date.now(), log);
      registry.prefetchAll();
      files.keeper.unlock();
      log.info("agent unlocked", { cached_tokens_restored: restored });
    },
  });
  let databasesInForce = config.databases;
  const reloader = new ConfigReloader({
    location: deps.location,
    initial: config,
    registry,
    store,
    env: process.env,
    log,
    now: Date.now,
    onApplied: (next) => {
      connections.apply(next);
      files.apply(next);
      databasesInForce = next.databases;
    },
  });
  const access = createAccessControl({ accessOf: (name) => registry.definition(name)?.access, audit, confirmations });
  return {
    registry,
    connections,
    files,
    audit,
    confirmations,
    lock,
    config: reloader,
    access,
    databases: () => databasesInForce,
    beginRestore,
    restored,
  };
}

function iso(t: number): string {
  return new Date(t).toISOString();
}
