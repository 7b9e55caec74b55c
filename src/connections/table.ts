import type { AgentConfig, ConnectionConfig } from "../config/load.ts";
import { renderTemplate } from "./template.ts";
import { CredagentError } from "../errors.ts";
import type { Token } from "../sources/source.ts";

// The config's connections: connection strings rendered from a credential when an app asks. Their
// pgpass entries make a file the agent keeps fresh (src/files/specs.ts).

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

export class ConnectionTable {
  #connections: ConnectionConfig[] = [];

  constructor(
    private readonly deps: {
      /** Where the pgpass file lives: in the agent's 0700 runtime directory. */
      pgpassPath: string;
    },
  ) {}

  /** Takes the connections of a (re)loaded config. */
  apply(config: AgentConfig): void {
    this.#connections = config.connections;
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
}
