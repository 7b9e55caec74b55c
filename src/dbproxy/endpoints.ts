import { dirname } from "node:path";
import { databaseSocketPath, type DatabaseConfig } from "../config/databases.ts";
import type { PathEnv } from "../paths.ts";
import type { DatabaseEndpointInfo } from "../wire/types.ts";

// What `credagent db` and `credagent env` show: every endpoint of the config in force, and whether
// the running agent serves it. The agent makes its endpoints at start, so the config in force
// (after a reload) and what is served can differ; this says how, rather than naming a socket
// that does not exist. Pure: the agent passes what it serves, the CLI what it could learn.

/** An endpoint the running agent listens on (or tried to, and why that failed). */
export interface ServedEndpoint {
  db: DatabaseConfig;
  transport: "unix" | "tcp";
  address: string;
  /** Why it could not listen; absent when it does. */
  error?: string;
}

export const RESTART = "not served by the running agent: restart it (credagent stop && credagent start)";

function endpointsOf(db: DatabaseConfig, p: PathEnv): Array<Pick<DatabaseEndpointInfo, "transport" | "address" | "socket_dir">> {
  const socket = databaseSocketPath(p, db);
  const out: Array<Pick<DatabaseEndpointInfo, "transport" | "address" | "socket_dir">> = [
    { transport: "unix", address: socket, ...(db.protocol === "postgresql" ? { socket_dir: dirname(socket) } : {}) },
  ];
  if (db.listen) out.push({ transport: "tcp", address: `${db.listen.host}:${db.listen.port}` });
  return out;
}

/**
 * `current`: the databases of the config in force; `served`: what the agent listens on, or null
 * when no agent runs (then nothing is served, and the note says so).
 */
export function describeEndpoints(current: DatabaseConfig[], served: ServedEndpoint[] | null, p: PathEnv): DatabaseEndpointInfo[] {
  const out: DatabaseEndpointInfo[] = [];
  const find = (name: string, transport: string, address: string) =>
    served?.find((s) => s.db.name === name && s.transport === transport && s.address === address);
  const base = (db: DatabaseConfig) => ({ name: db.name, protocol: db.protocol, server: `${db.host}:${db.port}`, tls: db.tls });
  for (const db of current) {
    for (const endpoint of endpointsOf(db, p)) {
      const running = find(db.name, endpoint.transport, endpoint.address);
      let note: string | undefined;
      if (served === null) note = "the agent is not running: credagent start";
      else if (!running) note = RESTART;
      else if (running.error) note = `not served: ${running.error}`;
      else if (JSON.stringify(running.db) !== JSON.stringify(db))
        note = "changed in the config since the agent started: it still serves the old settings until restarted";
      const servedNow = served !== null && running !== undefined && !running.error;
      out.push({ ...base(db), ...endpoint, served: servedNow, ...(note ? { note } : {}) });
    }
  }
  // Served, but no longer in the config: still served until the agent restarts.
  for (const s of served ?? []) {
    if (s.error || current.some((db) => db.name === s.db.name)) continue;
    out.push({
      ...base(s.db),
      transport: s.transport,
      address: s.address,
      ...(s.transport === "unix" && s.db.protocol === "postgresql" ? { socket_dir: dirname(s.address) } : {}),
      served: true,
      note: "removed from the config: served until the agent restarts",
    });
  }
  return out;
}

/**
 * The variables a client of each protocol reads, for the one served socket of that protocol (with
 * several, which one is the app's to choose, so none): PGHOST (libpq: the socket's directory),
 * MYSQL_UNIX_PORT (the mysql clients and libmysqlclient), REDIS_URL (unix://, read by most Redis
 * libraries' from-URL constructors).
 */
export function clientVariables(endpoints: DatabaseEndpointInfo[]): Array<[string, string]> {
  const byProtocol = new Map<string, DatabaseEndpointInfo[]>();
  for (const e of endpoints) {
    if (e.transport !== "unix" || !e.served) continue;
    byProtocol.set(e.protocol, [...(byProtocol.get(e.protocol) ?? []), e]);
  }
  const out: Array<[string, string]> = [];
  for (const [protocol, list] of byProtocol) {
    if (list.length !== 1) continue;
    const e = list[0]!;
    if (protocol === "postgresql" && e.socket_dir) out.push(["PGHOST", e.socket_dir]);
    else if (protocol === "mysql") out.push(["MYSQL_UNIX_PORT", e.address]);
    else if (protocol === "redis") out.push(["REDIS_URL", `unix://${e.address}`]);
  }
  return out;
}
