import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { databaseEndpoints } from "../../dbproxy/sockets.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { table } from "../output/table.ts";

const usage = `usage: credagent db [--json]

Lists the database endpoints ([databases.NAME] in the config): the directory of each socket is what a
client names as its host, with no password, e.g. psql "host=DIR dbname=app".`;

export const db = defineCommand("db", usage, { json: { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  noPositionals(positionals);
  if (process.platform === "win32") {
    throw new CredagentError(
      "not_implemented",
      "database endpoints are served on Linux and macOS only (Unix sockets): on Windows connect with 'credagent exec --env VAR=@CONNECTION' or a pgpass file instead",
    );
  }
  const endpoints = databaseEndpoints(ctx.pathEnv);
  if (values.json) ctx.out(`${JSON.stringify(endpoints, null, 2)}\n`);
  else if (endpoints.length === 0) ctx.out("no databases configured ([databases.NAME] in the config)\n");
  else
    ctx.out(
      table(
        ["NAME", "PROTOCOL", "SERVER", "TLS", "SOCKET"],
        endpoints.map((e) => [e.name, e.protocol, e.server, e.tls, e.protocol === "postgresql" ? `${e.socketDir} (PGHOST)` : e.socket]),
      ),
    );
  return EXIT.ok;
});
