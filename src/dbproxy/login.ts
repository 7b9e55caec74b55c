import { CredagentError } from "../errors.ts";
import type { Secret } from "../secret.ts";
import type { KerberosTicket, Token } from "../sources/source.ts";
import type { DatabaseConfig } from "../config/databases.ts";

/** What the proxy needs from a credential to log in to a database server. */
export interface DbLogin {
  user: string;
  password: Secret;
}

/** A kerberos credential's login: its ticket cache, from which a service ticket is got for the server. */
export interface KerberosLogin {
  kind: "kerberos";
  user: string;
  ticket: KerberosTicket;
}

/** A credential's current value, as the agent's registry gives it (bounded by its request_wait). */
export type CurrentToken = (credential: string) => Promise<Pick<Token, "value" | "username" | "kind" | "kerberos">>;

/**
 * The one place that maps a credential to a database login: the credential's password (or its
 * token: an Entra ID token is the password), as the credential's username, or as `user` of
 * [databases.NAME] when that is set (it overrides the credential's).
 */
export async function loginFor(db: DatabaseConfig, token: CurrentToken): Promise<DbLogin> {
  // Redis without ACL users (requirepass, or a server older than 6) has one user, "default".
  const fallbackUser = db.protocol === "redis" ? "default" : undefined;
  const current = await token(db.credential);
  if (current.kind === "kerberos") {
    throw new CredagentError(
      "config_invalid",
      `databases.${db.name}: the credential '${db.credential}' is a Kerberos ticket, which only PostgreSQL takes here; use a password credential`,
    );
  }
  if (current.kind === "aws") {
    throw new CredagentError(
      "config_invalid",
      `databases.${db.name}: the credential '${db.credential}' is an AWS key, not a password or token`,
    );
  }
  const user = db.user ?? current.username ?? fallbackUser;
  if (!user) {
    throw new CredagentError(
      "config_invalid",
      `databases.${db.name}: the credential '${db.credential}' has no user name; set username = "ROLE" on the credential, or user = "ROLE" in [databases.${db.name}]`,
    );
  }
  return { user, password: current.value };
}

/**
 * PostgreSQL's login: a password (as loginFor), or with a kerberos credential its ticket, as the
 * role `user` of [databases.NAME] or else the principal's name without its realm (what pg_hba's
 * include_realm=0 matches; a pg_ident map can take the whole principal instead).
 */
export async function serverLoginFor(db: DatabaseConfig, token: CurrentToken): Promise<DbLogin | KerberosLogin> {
  const current = await token(db.credential);
  if (current.kind !== "kerberos" || !current.kerberos) return loginFor(db, async () => current);
  const principal = current.kerberos.principal;
  return { kind: "kerberos", user: db.user ?? principal.replace(/@[^@]*$/, ""), ticket: current.kerberos };
}
