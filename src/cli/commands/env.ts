import { readFileSync } from "node:fs";
import { AgentClient } from "../../client/client.ts";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { sessionTokenPath } from "../../paths.ts";
import { clientVariables } from "../../dbproxy/endpoints.ts";
import { sdkEnvironment } from "../sdk-env.ts";
import { UsageError } from "../io.ts";
import { parseDuration } from "../../duration.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { exportCode } from "../output/shell.ts";
import { shellDialect, shellOptions } from "./shell-flags.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent env [--sdk] [-s|-c|--fish|--powershell]
       credagent env --env-file FILE --reveal [--min-valid DUR] [-s|-c|--fish|--powershell]

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

  --sdk   print instead the variables that point the Azure, AWS and Google SDKs and CLIs at the
          agent's loopback token endpoints ([endpoints] in the config), those of the endpoints
          enabled: Azure IDENTITY_ENDPOINT, IDENTITY_HEADER, MSI_ENDPOINT, MSI_SECRET,
          AZURE_POD_IDENTITY_AUTHORITY_HOST; AWS AWS_CONTAINER_CREDENTIALS_FULL_URI,
          AWS_CONTAINER_AUTHORIZATION_TOKEN; Google GCE_METADATA_HOST, GCE_METADATA_IP,
          GOOGLE_CLOUD_PROJECT
  --env-file FILE   print instead the variables of a dotenv file with its cred://NAME,
                    cred://NAME/PART and conn://NAME references resolved (see credagent exec):
                    they hold secrets, so only with --reveal; prefer credagent exec --env-file,
                    which puts them only in one program's environment
  --min-valid DUR   with --env-file: values valid for at least this long`;

const envOptions = {
  ...shellOptions,
  sdk: { type: "boolean" },
  "env-file": { type: "string" },
  reveal: { type: "boolean" },
  "min-valid": { type: "string" },
} as const;

export const env = defineCommand("env", usage, envOptions, async ({ values, positionals }, ctx) => {
  noPositionals(positionals);
  const envFile = values["env-file"];
  if (envFile === undefined && (values.reveal || values["min-valid"] !== undefined))
    throw new UsageError("--reveal and --min-valid go with --env-file FILE");
  if (envFile !== undefined) {
    if (values.sdk) throw new UsageError("--env-file and --sdk print different things: give one");
    if (!values.reveal) {
      throw new UsageError(
        `--env-file prints the resolved values, secrets included: add --reveal to print them, or run the program with 'credagent exec --env-file ${envFile} -- CMD', which puts them only in its environment`,
      );
    }
    const minValidText = values["min-valid"];
    const minValid = minValidText === undefined ? undefined : parseDuration(minValidText);
    if (minValidText !== undefined && minValid === undefined) throw new UsageError("--min-valid takes a duration such as 90s or 10m");
    const { readEnvFile, resolveEnvEntries } = await import("../env-file.ts");
    const entries = readEnvFile(envFile);
    const resolved = await resolveEnvEntries(
      entries,
      agentOf(ctx),
      minValid === undefined ? undefined : Math.ceil(minValid / 1000),
      envFile,
    );
    ctx.out(exportCode(shellDialect(values, ctx.env.SHELL), resolved, `${envFile} resolved`));
    return EXIT.ok;
  }
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
  // KRB5CCNAME only when there is one ticket cache: with several, which one is the program's to say.
  const caches = (await new AgentClient(socket, 5_000).list()).credentials.flatMap((c) => (c.ticket_cache ? [c.ticket_cache] : []));
  if (caches.length === 1) variables.push(["KRB5CCNAME", caches[0]!]);
  ctx.out(exportCode(dialect, variables, "credagent environment set"));
  return EXIT.ok;
});
