import type { Actor } from "../identity/actor.ts";
import type { AccessDecision } from "../api/deps.ts";
import type { EndpointsConfig } from "../config/load.ts";
import type { CredentialRegistry } from "../refresh/registry.ts";
import type { EndpointSecret } from "./secret.ts";

/** Who is on the other end, as the admission step found it (its uid by the connection's 4-tuple). */
export type LoopbackBindings = Actor;

/** The requester as far as known, and which protocol it spoke (for the audit line). */
export interface LoopbackPeer {
  uid: number | null;
  protocol: "azure" | "aws" | "gcp";
  /** Which of the protocol's forms was asked, where it has several (Azure: "IMDS", "Cloud Shell", "App Service 2017"…). */
  form?: string;
}

/** What the endpoints need from the agent; passed in so that the routes run under app.request(). */
export interface EndpointDeps {
  registry: Pick<CredentialRegistry, "get" | "list" | "definition">;
  config: EndpointsConfig;
  secret: EndpointSecret;
  /** The agent is locked: no tokens. */
  locked(): boolean;
  /** The agent's allow rules and audit line (the process is not known on loopback: rules refuse). */
  authorize(credential: string, peer: LoopbackPeer): Promise<AccessDecision>;
  /** Whether peer uids can be known (Linux): the Google endpoint is served only then. */
  uidKnown: boolean;
  now(): number;
}
