import { join } from "node:path";
import { loadConfig } from "../config/load.ts";
import { configPath, type PathEnv } from "../paths.ts";
import { databaseSocketDir, socketName } from "../config/databases.ts";

export interface DatabaseEndpoint {
  name: string;
  protocol: string;
  server: string;
  tls: string;
  /** What PGHOST (libpq's host=, node-postgres's host) names. */
  socketDir: string;
  socket: string;
}

/** The database endpoints of the config file, as the agent serves them (read from the file, not asked of the agent). */
export function databaseEndpoints(p: PathEnv): DatabaseEndpoint[] {
  const where = configPath(p);
  return loadConfig(where.path, where.explicit).databases.map((db) => {
    const dir = databaseSocketDir(p, db.name);
    return {
      name: db.name,
      protocol: db.protocol,
      server: `${db.host}:${db.port}`,
      tls: db.tls,
      socketDir: dir,
      socket: join(dir, socketName(db.protocol)),
    };
  });
}
