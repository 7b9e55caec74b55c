import type { Admission } from "../admission/admission.ts";
import type { AgentConfig } from "../config/load.ts";
import type { ServedEndpoint } from "../dbproxy/endpoints.ts";
import type { Logger } from "../log/log.ts";
import type { PathEnv } from "../paths.ts";
import type { Core } from "./core.ts";

// The agent's side services, once its socket serves: the database endpoints and the cloud SDKs'
// loopback endpoints, each behind the same admission step. Each is loaded only when the config has
// one: the database proxy brings node:net, node:tls, node:stream and node:crypto, which an agent
// without [databases] would load at every start for nothing (issue 28: its start and its memory).

export interface SideServices {
  databases: { served(): ServedEndpoint[]; stop(graceMs: number): Promise<void> };
  sdkEndpoints: { stop(): Promise<void> } | null;
}

const NO_DATABASES: SideServices["databases"] = { served: () => [], stop: async () => {} };

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
  const databases =
    deps.config.databases.length === 0
      ? NO_DATABASES
      : await (await import("../dbproxy/agent.ts")).startDatabaseProxy({
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
  const endpoints = deps.config.endpoints;
  const sdkEndpoints = !(endpoints?.azure || endpoints?.aws || endpoints?.gcp)
    ? null
    : (await import("../endpoints/start.ts")).startSdkEndpoints({
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
