import { loadConfig } from "../../config/load.ts";
import { describeEndpoints } from "../../dbproxy/endpoints.ts";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { configPath } from "../../paths.ts";
import type { DatabaseEndpointInfo } from "../../wire/types.ts";
import { defineCommand, noPositionals } from "../command.ts";
import type { CliContext } from "../io.ts";
import { table } from "../output/table.ts";
import { agentOf } from "../agent.ts";
import { terminalSafeJson } from "../../printable.ts";

const usage = `usage: credagent db [--json]

Lists the database endpoints ([databases.NAME] in the config): each socket (and loopback TCP
listener), its protocol, its real server, and whether the running agent serves it. Endpoints are
made when the agent starts: one added by 'credagent reload' is listed as not served until the agent
is restarted. A client connects to a served socket with no password, e.g.
psql "host=DIR dbname=app" (DIR: the socket's directory), redis-cli -s SOCKET.`;

export const db = defineCommand("db", usage, { json: { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  noPositionals(positionals);
  const endpoints = await databaseEndpoints(ctx);
  if (values.json) ctx.out(`${terminalSafeJson(JSON.stringify(endpoints, null, 2))}\n`);
  else if (endpoints.length === 0) ctx.out("no databases configured ([databases.NAME] in the config)\n");
  else
    ctx.out(
      table(
        ["NAME", "PROTOCOL", "SERVER", "ENDPOINT", "STATUS"],
        endpoints.map((e) => [
          e.name,
          e.protocol,
          e.server,
          e.socket_dir ? `${e.socket_dir} (PGHOST)` : e.address,
          e.served ? (e.note ? `served; ${e.note}` : "served") : (e.note ?? "not served"),
        ]),
      ),
    );
  return EXIT.ok;
});

/** The agent's answer; with no agent running, the config file's endpoints, none served. */
export async function databaseEndpoints(ctx: CliContext): Promise<DatabaseEndpointInfo[]> {
  try {
    return (await agentOf(ctx, 5_000).databases()).databases;
  } catch (err) {
    if (!(err instanceof CredagentError) || err.code !== "agent_not_running") throw err;
    const where = configPath(ctx.pathEnv);
    return describeEndpoints(loadConfig(where.path, where.explicit).databases, null, ctx.pathEnv);
  }
}
