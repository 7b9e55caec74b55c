import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { AgentConfig, ConnectionConfig } from "../config/load.ts";
import { removePgpassFile, writePgpassFile, type PgpassEntry } from "./pgpass.ts";
import { renderTemplate } from "./template.ts";
import { CredagentError, describe } from "../errors.ts";
import type { CredentialRegistry } from "../refresh/registry.ts";
import type { Token } from "../sources/source.ts";
import type { Logger } from "../log/log.ts";

// The config's connections: connection strings rendered from a credential when an app asks, and
// the pgpass file, rewritten whenever one of its credentials gets a new token and removed when the
// agent is locked or stops (no secret stays on disk).

/** The values a template's placeholders take from a token. */
export function templateValues(token: Token): Record<string, string> {
  const values: Record<string, string> = {};
  if (token.username !== undefined) values.username = token.username;
  if (token.kind === "aws" && token.aws) {
    values.access_key_id = token.aws.accessKeyId;
    values.secret_access_key = token.value.reveal();
    if (token.aws.sessionToken) values.session_token = token.aws.sessionToken.reveal();
  } else {
    values.password = token.value.reveal();
    values.token = values.password;
  }
  return values;
}

/**
 * Where the pgpass file's passwords come from (the registry), passed at each write rather than
 * held: the registry's token events rewrite the file, so neither is built before the other.
 */
export type TokenHolder = Pick<CredentialRegistry, "get">;

export class ConnectionTable {
  #connections: ConnectionConfig[] = [];

  constructor(
    private readonly deps: {
      /** Where the pgpass file lives: in the agent's 0700 runtime directory. */
      pgpassPath: string;
      log: Logger;
    },
  ) {}

  /** Takes the connections of a (re)loaded config; the pgpass file follows at once. */
  apply(config: AgentConfig, tokens: TokenHolder): void {
    this.#connections = config.connections;
    this.writePgpass(tokens);
  }

  get(name: string): ConnectionConfig {
    const connection = this.#connections.find((c) => c.name === name);
    if (!connection)
      throw new CredagentError("not_found", `no connection named '${name}' is configured (the config's [connections.${name}])`);
    return connection;
  }

  /** The pgpass file's path while the config has pgpass entries, else null. */
  pgpassFile(): string | null {
    return this.#connections.some((c) => c.pgpass) ? this.deps.pgpassPath : null;
  }

  render(connection: ConnectionConfig, token: Token): string {
    if (!connection.template)
      throw new CredagentError("not_found", `the connection '${connection.name}' has no template (only a pgpass entry)`);
    try {
      return renderTemplate(connection.template.text, connection.template.format, templateValues(token));
    } catch (err) {
      throw new CredagentError("unavailable", `the connection '${connection.name}': ${(err as Error).message}`, { cause: err });
    }
  }

  /** Rewrites the pgpass file from the tokens held now; a credential without one is left out until it has one. */
  writePgpass(tokens: TokenHolder): void {
    const path = this.pgpassFile();
    if (path === null) {
      removePgpassFile(this.deps.pgpassPath);
      return;
    }
    const entries: PgpassEntry[] = [];
    for (const connection of this.#connections) {
      if (!connection.pgpass) continue;
      let token: Token | undefined;
      try {
        token = tokens.get(connection.credential).current();
      } catch {
        continue;
      }
      if (!token || token.username === undefined || token.kind === "aws") continue;
      entries.push({ ...connection.pgpass, username: token.username, password: token.value });
    }
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writePgpassFile(path, entries);
    } catch (err) {
      this.deps.log.warn("cannot write the pgpass file", { path, error: describe(err) });
    }
  }

  removePgpass(): void {
    removePgpassFile(this.deps.pgpassPath);
  }
}
