import { AgentClient } from "../client/client.ts";
import { endpointsInfoPath, readEndpointsInfo, sdkVariables } from "../endpoints/info-file.ts";
import type { CliContext } from "./io.ts";

/** The cloud SDKs' variables for the agent's loopback endpoints (checked to be running first). */
export async function sdkEnvironment(ctx: CliContext): Promise<Array<[string, string]>> {
  const socket = ctx.socketPath();
  await new AgentClient(socket, 5_000).health();
  return sdkVariables(readEndpointsInfo(endpointsInfoPath(socket, ctx.pathEnv)));
}
