import { join } from "node:path";
import type { AgentConfig } from "../config/load.ts";
import { pgpassBytes, type PgpassEntry } from "../connections/pgpass.ts";
import type { Token } from "../sources/source.ts";
import type { KeptFile } from "./keeper.ts";
import { renderTemplate } from "./render.ts";

// The files a config asks to be kept fresh: its [files.NAME] tables, and the pgpass file of its
// connections' pgpass entries (the first file kind credagent kept, with its own config).

export interface FilePlaces {
  /** The agent's private runtime directory (credagent/ beside the socket): files with no path go in files/ there. */
  runtimeDir: string;
  /** The user's home: a file with a path must be in it. */
  home: string;
}

export function keptFiles(config: AgentConfig, places: FilePlaces): KeptFile[] {
  const files: KeptFile[] = config.files.map((f) => ({
    name: f.name,
    path: f.path ?? join(places.runtimeDir, "files", f.name),
    home: f.path === undefined ? null : places.home,
    format: f.format,
    mode: f.mode,
    keep: f.keep,
    replace: f.replace,
    ...(f.onChange ? { onChange: f.onChange } : {}),
    credentials: [...new Set([...f.credentials, ...f.connections.map((c) => config.connections.find((x) => x.name === c)!.credential)])],
    render: (values, blank) => renderTemplate(f.template.pieces, values, blank),
  }));
  const pgpass = config.connections.filter((c) => c.pgpass);
  if (pgpass.length > 0) {
    files.push({
      name: "pgpass",
      path: pgpassPath(places),
      home: null,
      format: "pgpass",
      mode: 0o600,
      keep: false,
      replace: false,
      credentials: [...new Set(pgpass.map((c) => c.credential))],
      // libpq tries the lines in order: a credential with no token yet is left out until it has one.
      render: (values) => {
        const entries: PgpassEntry[] = [];
        for (const connection of pgpass) {
          const token: Token | undefined = values.token(connection.credential);
          if (!token || token.username === undefined || token.kind === "aws") continue;
          entries.push({ ...connection.pgpass!, username: token.username, password: token.value });
        }
        const bytes = pgpassBytes(entries);
        try {
          return new TextDecoder().decode(bytes);
        } finally {
          bytes.fill(0);
        }
      },
    });
  }
  return files;
}

/** Where the connections' pgpass file is: `credagent env` prints it as PGPASSFILE. */
export function pgpassPath(places: Pick<FilePlaces, "runtimeDir">): string {
  return join(places.runtimeDir, "pgpass");
}
