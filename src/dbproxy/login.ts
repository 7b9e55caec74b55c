import { CredagentError } from "../errors.ts";
import type { Secret } from "../secret.ts";
import type { DatabaseConfig } from "./config.ts";

/** What the proxy needs from a credential to log in to a database server. */
export interface DbLogin {
  user: string;
  password: Secret;
}

/** A credential's current value, as the agent's registry gives it (bounded by its request_wait). */
export type CurrentToken = (credential: string) => Promise<{ value: Secret }>;

/**
 * The one place that maps a credential to a database login. Today a credential is one token: it is
 * the password, and the role is `user` of [databases.NAME]. Once credentials have parts (username,
 * password), the password is the credential's and the user is its username unless `user` overrides it.
 */
export async function loginFor(db: DatabaseConfig, token: CurrentToken): Promise<DbLogin> {
  if (!db.user) {
    throw new CredagentError("config_invalid", `databases.${db.name} has no user; set user = "ROLE" in [databases.${db.name}]`);
  }
  const { value } = await token(db.credential);
  return { user: db.user, password: value };
}
