import { AgentClient, type AgentApi } from "../client/client.ts";
import type { CliContext } from "./io.ts";

/** The agent at the CLI's socket, through the context's client when a test injects one. */
export function agentOf(ctx: CliContext, timeoutMs?: number): AgentApi {
  return ctx.client?.(timeoutMs) ?? new AgentClient(ctx.socketPath(), timeoutMs);
}
