import type { Admission } from "../admission/admission.ts";
import type { AuditLog } from "../log/audit.ts";
import type { Logger } from "../log/log.ts";
import type { AgentConfig } from "../config/load.ts";
import { describe } from "../errors.ts";
import { capabilities } from "../platform/os.ts";
import type { PathEnv } from "../paths.ts";
import type { CredentialRegistry } from "../refresh/registry.ts";
import { loopbackAccess } from "./access.ts";
import { createEndpointsApp } from "./app.ts";
import { endpointsInfoPath, writeEndpointsInfo } from "./info-file.ts";
import { EndpointSecret } from "./secret.ts";
import { listenLoopback } from "./server.ts";

export interface SdkEndpointsDeps {
  config: AgentConfig;
  registry: CredentialRegistry;
  locked(): boolean;
  audit: AuditLog;
  log: Logger;
  socketPath: string;
  pathEnv: PathEnv;
  /** The admission step every front door shares. */
  admission: Admission;
  requestDeadlineMs: number;
}

/**
 * The cloud SDKs' token endpoints on 127.0.0.1, when the config enables any; null otherwise.
 * Throws when the listener cannot start (a configured port in use): the agent does not start
 * half-configured.
 */
export function startSdkEndpoints(deps: SdkEndpointsDeps): { port: number; stop(): Promise<void> } | null {
  const config = deps.config.endpoints;
  if (!config || (!config.azure && !config.aws && !config.gcp)) return null;
  const uidKnown = capabilities.loopbackPeers;
  if (config.gcp && !uidKnown) {
    deps.log.warn("the Google metadata endpoint stays off: on this system the agent cannot tell which user connects to 127.0.0.1", {
      platform: capabilities.os,
    });
  }
  const secret = new EndpointSecret();
  const authorize = loopbackAccess({ accessOf: (name) => deps.registry.definition(name)?.access, audit: deps.audit });
  const app = createEndpointsApp({
    registry: deps.registry,
    config,
    secret,
    locked: deps.locked,
    authorize,
    uidKnown,
    now: Date.now,
  });
  const server = listenLoopback(app, {
    port: config.port,
    admission: deps.admission,
    requestDeadlineMs: deps.requestDeadlineMs,
    log: deps.log,
  });
  const served = {
    azure: config.azure,
    azureImds: config.azure && uidKnown,
    aws: config.aws !== undefined,
    gcp: config.gcp !== undefined && uidKnown,
    gcpProject: config.gcpProject,
  };
  let file: { remove(): void };
  try {
    file = writeEndpointsInfo(
      endpointsInfoPath(deps.socketPath, deps.pathEnv),
      { url: `http://127.0.0.1:${server.port}`, ...served },
      secret.value,
    );
  } catch (err) {
    void server.stop();
    throw err;
  }
  deps.log.info("SDK endpoints listening", {
    address: `127.0.0.1:${server.port}`,
    azure: config.azure,
    aws: config.aws ?? "-",
    gcp: served.gcp ? config.gcp : "-",
  });
  return {
    port: server.port,
    async stop() {
      file.remove();
      await server.stop().catch((err) => deps.log.warn("stopping the SDK endpoints failed", { error: describe(err) }));
    },
  };
}
