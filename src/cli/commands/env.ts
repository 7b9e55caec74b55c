import { readFileSync } from "node:fs";
import { AgentClient } from "../../client/client.ts";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { sessionTokenPath } from "../../paths.ts";
import { clientVariables } from "../../dbproxy/endpoints.ts";
import { loadConfig } from "../../config/load.ts";
import { configPath } from "../../paths.ts";
import { ticketCacheDir, ticketCacheName } from "../../kerberos/profile.ts";
import { sdkEnvironment } from "../sdk-env.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { exportCode } from "../output/shell.ts";
import { shellDialect, shellOptions } from "./shell-flags.ts";

const usage = `usage: credagent env [--sdk] [-s|-c|--fish|--powershell]

Prints shell code that sets CRED_SOCK and CRED_SESSION_TOKEN, for apps that build their requests
to the agent themselves: send "Authorization: Bearer $CRED_SESSION_TOKEN". The token is required
on Windows named pipes and when the config sets require_session_token = true. When the config has
pgpass entries, PGPASSFILE too: the file the agent keeps fresh, which libpq (psql, pg_dump, every
libpq-based driver) reads at each connection. For the one database socket of a protocol the agent
serves (see credagent db), the variable its clients read: PGHOST (the socket's directory),
MYSQL_UNIX_PORT, REDIS_URL=unix://SOCKET; with several of one protocol, none (which one is the
app's to choose). With one kerberos credential, KRB5CCNAME too: the
ticket cache the agent keeps fresh, for programs that speak Kerberos themselves (psql with
gssencmode, curl --negotiate, ssh -K, smbclient -k); with several, credagent exec --env
KRB5CCNAME=NAME picks one.

  --sdk   print instead the variables that point the Azure, AWS and Google SDKs at the agent's
          loopback token endpoints ([endpoints] in the config): IDENTITY_ENDPOINT,
          IDENTITY_HEADER, AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN,
          GCE_METADATA_HOST, GCE_METADATA_IP (those of the endpoints enabled)`;

export const env = defineCommand("env", usage, { ...shellOptions, sdk: { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  noPositionals(positionals);
  if (values.sdk) {
    ctx.out(exportCode(shellDialect(values, ctx.env.SHELL), await sdkEnvironment(ctx), "credagent SDK endpoints set"));
    return EXIT.ok;
  }
  const socket = ctx.socketPath();
  const health = await new AgentClient(socket, 5_000).health();
  let token: string;
  try {
    token = readFileSync(sessionTokenPath(socket, ctx.pathEnv), "utf8").trim();
  } catch (err) {
    throw new CredagentError("unavailable", `cannot read the agent's session token beside ${socket}`, { cause: err });
  }
  const dialect = shellDialect(values, ctx.env.SHELL);
  const variables: Array<[string, string]> = [
    ["CRED_SOCK", socket],
    ["CRED_SESSION_TOKEN", token],
  ];
  if (health.pgpass) variables.push(["PGPASSFILE", health.pgpass]);
  variables.push(...clientVariables((await new AgentClient(socket, 5_000).databases()).databases));
  const kerberos = kerberosCredentials(ctx.pathEnv);
  if (kerberos.length === 1) variables.push(["KRB5CCNAME", ticketCacheName(ticketCacheDir(ctx.pathEnv), kerberos[0]!)]);
  ctx.out(exportCode(dialect, variables, "credagent environment set"));
  return EXIT.ok;
});

/** The kerberos credentials of the config file (read here, as for PGHOST: one that cannot be read gives none). */
function kerberosCredentials(p: Parameters<typeof configPath>[0]): string[] {
  try {
    const where = configPath(p);
    return loadConfig(where.path, where.explicit)
      .credentials.filter((c) => c.source === "kerberos")
      .map((c) => c.name);
  } catch {
    return [];
  }
}
