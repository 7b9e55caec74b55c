import type { Admission } from "../admission/admission.ts";
import type { AgentConfig } from "../config/load.ts";
import { startDatabaseProxy } from "../dbproxy/agent.ts";
import type { DatabaseProxy } from "../dbproxy/proxy.ts";
import { startSdkEndpoints } from "../endpoints/start.ts";
import type { Logger } from "../log/log.ts";
import type { PathEnv } from "../paths.ts";
import type { Core } from "./core.ts";

// The agent's side services, once its socket serves: the database endpoints and the cloud SDKs'
// loopback endpoints, each behind the same admission step.

export interface SideServices {
  databases: DatabaseProxy;
  sdkEndpoints: { stop(): Promise<void> } | null;
}

export async function startSideServices(
  deps: {
    core: Core;
    config: AgentConfig;
    admission: Admission;
    socketPath: string;
    pathEnv: PathEnv;
    requestDeadlineMs: number;
    log: Logger;
  },
  resources: AsyncDisposableStack,
): Promise<SideServices> {
  const { core, log } = deps;
  const databases = await startDatabaseProxy({
    config: deps.config,
    pathEnv: deps.pathEnv,
    registry: core.registry,
    access: core.access,
    admission: deps.admission,
    startupTimeoutMs: deps.requestDeadlineMs,
    locked: () => core.lock.locked,
    log,
  });
  resources.defer(() => databases.stop(0));
  // Throws when the listener cannot start (a configured port in use): the agent does not start
  // half-configured, and what started before is released.
  const sdkEndpoints = startSdkEndpoints({
    config: deps.config,
    registry: core.registry,
    locked: () => core.lock.locked,
    audit: core.audit,
    log,
    socketPath: deps.socketPath,
    pathEnv: deps.pathEnv,
    admission: deps.admission,
    requestDeadlineMs: deps.requestDeadlineMs,
  });
  if (sdkEndpoints) resources.defer(() => sdkEndpoints.stop());
  return { databases, sdkEndpoints };
}
