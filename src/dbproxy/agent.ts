import type { Logger } from "../log/log.ts";
import type { Admission } from "../admission/admission.ts";
import type { createAccessControl } from "../policy/access.ts";
import type { AgentConfig } from "../config/load.ts";
import type { PathEnv } from "../paths.ts";
import type { CredentialRegistry } from "../refresh/registry.ts";
import { capabilities } from "../platform/os.ts";
import { DatabaseProxy } from "./proxy.ts";
import { workerKdc } from "../kerberos/kdc.ts";

/** The agent's wiring of the database endpoints: the same access control, audit log and registry as its socket. */
export async function startDatabaseProxy(deps: {
  config: AgentConfig;
  pathEnv: PathEnv;
  registry: CredentialRegistry;
  access: ReturnType<typeof createAccessControl>;
  admission: Admission;
  /** How long a client has for its startup packet (the agent's request deadline). */
  startupTimeoutMs: number;
  locked: () => boolean;
  log: Logger;
}): Promise<DatabaseProxy> {
  // PostgreSQL clients find a local server by a Unix socket; node:net listens on a named pipe on
  // Windows whatever the path, and libpq does not speak pipes. A config shared with Linux machines
  // still starts: the databases are named in the log, not served.
  const served = capabilities.unixSockets ? deps.config.databases : [];
  if (served.length < deps.config.databases.length) {
    deps.log.warn("database endpoints are not served on Windows (libpq connects to Unix sockets, which the agent cannot listen on there)", {
      databases: deps.config.databases.map((d) => d.name).join(","),
    });
  }
  const proxy = new DatabaseProxy({
    databases: served,
    notServed: deps.config.databases
      .filter((d) => !served.includes(d))
      .map((db) => ({ db, reason: "database endpoints are not served on Windows (no Unix sockets there)" })),
    pathEnv: deps.pathEnv,
    agentUid: deps.pathEnv.uid,
    admission: deps.admission,
    authorize: (credential, actor, database) => deps.access.authorize(credential, "fetch", actor, database),
    token: (credential) => deps.registry.get(credential).get(),
    kdc: workerKdc(),
    locked: deps.locked,
    connectTimeoutMs: 15_000,
    startupTimeoutMs: deps.startupTimeoutMs,
    log: deps.log,
  });
  await proxy.start();
  return proxy;
}
