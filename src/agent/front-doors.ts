import { Admission } from "../admission/admission.ts";
import { slotLimits } from "../admission/slots.ts";
import { createApp } from "../api/app.ts";
import type { ApiDeps } from "../api/deps.ts";
import { healthBody } from "../api/routes/health.ts";
import type { AgentConfig } from "../config/load.ts";
import { describeEndpoints, type ServedEndpoint } from "../dbproxy/endpoints.ts";
import { CredagentError, describe } from "../errors.ts";
import { createHttpServer, type HttpServer } from "../http/server.ts";
import { workerKdc } from "../kerberos/kdc.ts";
import { controllingTerminal, terminalName } from "../identity/process-info.ts";
import type { Logger } from "../log/log.ts";
import { isWindowsPipe, pipeLockPath, sessionTokenPath, type PathEnv } from "../paths.ts";
import { capabilities } from "../platform/os.ts";
import { raiseOpenFileLimit } from "../platform/process-hardening.ts";
import { mayAnswerApproval } from "../policy/access.ts";
import { restoreTokens } from "../refresh/token-cache.ts";
import type { LazyStore } from "../store/open.ts";
import { listenActivated, type Activation } from "../transport/activation.ts";
import { listenLocal } from "../transport/listen.ts";
import type { Stream } from "../transport/stream.ts";
import type { UnixListener } from "../transport/unix.ts";
import { VERSION } from "../version.ts";
import type { HealthResponse } from "../wire/types.ts";
import type { Core } from "./core.ts";
import { createSessionToken } from "./session-token.ts";
import { credentialsNeedingStore } from "../config/store-users.ts";

// The agent's front doors: the one admission step every listener shares, the API (the hono app
// behind the HTTP server), and the socket, activated socket or pipe it listens on, with its
// session token.

export interface FrontDoors {
  admission: Admission;
  server: HttpServer;
  listener: UnixListener;
  /** GET /v1/health's answer, for the ready line. */
  health(): HealthResponse;
}

export interface FrontDoorDeps {
  core: Core;
  config: AgentConfig;
  store: LazyStore;
  socketPath: string;
  activation: Activation | null;
  pathEnv: PathEnv;
  agentUid: number;
  log: Logger;
  /** Deadlines of the request phases the client controls (headers and body; idle keep-alive). */
  requestDeadlineMs: number;
  idleTimeoutMs: number;
  startedAt: number;
  /** Started by the session's service (socket activation, or `start --service`): `service uninstall` stops it. */
  service: boolean;
  /** The `credagent start` options it runs with, for `credagent restart`. */
  startedWith: string[];
  /** Whether its program file was replaced since it started (an upgrade). */
  binaryReplaced: () => boolean;
  /** Known later: the database endpoints served (GET /v1/databases), the agent's stop (POST /v1/shutdown). */
  late: { served(): ServedEndpoint[]; stop(reason: string): void };
}

/** Listens; what it starts is released by `resources`, in reverse. Throws agent_running when another agent serves the socket. */
export async function openFrontDoors(deps: FrontDoorDeps, resources: AsyncDisposableStack): Promise<FrontDoors> {
  const { core, config, log } = deps;
  const pipe = capabilities.namedPipes || isWindowsPipe(deps.socketPath);
  let sessionToken: ReturnType<typeof createSessionToken> | undefined;
  resources.defer(() => sessionToken?.remove());
  const api: ApiDeps = {
    registry: core.registry,
    lock: core.lock,
    authorize: core.access.authorize,
    mayList: core.access.mayList,
    approvals: {
      list: () => core.confirmations.list(),
      answer: (id, approve, actor) => {
        const pending = core.confirmations.list().find((p) => p.id === id);
        const refusal = pending ? mayAnswerApproval(actor, pending, controllingTerminal) : null;
        if (refusal) throw new CredagentError("forbidden", refusal);
        // The audit line says who answered, on which terminal: a self-approval that got past the
        // checks (a detached program with a pseudo-terminal) is visible there.
        const pid = actor?.peer?.pid ?? 0;
        const tty = pid ? controllingTerminal(pid) : null;
        core.confirmations.answer(id, approve, {
          kind: "terminal",
          pid,
          exe: actor?.process?.exe ?? null,
          terminal: tty ? terminalName(tty) : null,
        });
      },
    },
    sessionToken: pipe || config.requireSessionToken ? (header) => sessionToken?.verify(header) ?? false : null,
    info: {
      version: VERSION,
      pid: process.pid,
      socket: deps.socketPath,
      startedAt: deps.startedAt,
      service: deps.service,
      binaryReplaced: deps.binaryReplaced,
      startedWith: deps.startedWith,
    },
    config: core.config,
    connections: core.connections,
    databases: { list: () => describeEndpoints(core.databases(), deps.late.served(), deps.pathEnv) },
    negotiate: async (name, url) => {
      const credential = core.registry.get(name);
      const token = credential.source.kind === "kerberos" ? await credential.get() : undefined;
      if (!token?.kerberos) {
        throw new CredagentError("bad_request", `credential '${name}' is not a kerberos credential: Negotiate needs a Kerberos ticket`);
      }
      // Loaded with the first Negotiate header: GSS-API and krb5 calls are not every agent's.
      const { negotiateHeader } = await import("../kerberos/negotiate.ts");
      return negotiateHeader(token.kerberos, url, workerKdc());
    },
    files: core.files.keeper,
    shutdown: (reason) => deps.late.stop(reason),
    store: {
      status: () => ({ ...deps.store.status(), needed_by: credentialsNeedingStore(core.config.current) }),
      unlock: async (passphrase) => {
        await deps.store.unlock(passphrase);
        // What failed for want of the store tries again now, and cached tokens come back.
        const restored = await restoreTokens(deps.store, core.registry, Date.now(), log);
        for (const credential of core.registry.list()) credential.retry();
        log.info("secret store unlocked", { cached_tokens_restored: restored });
      },
    },
    now: Date.now,
  };
  const app = createApp(api, (err) =>
    log.error("internal error", { error: describe(err), stack: err instanceof Error ? err.stack : undefined }),
  );

  // One admission step for every front door, with one pool of connection slots below the
  // descriptor limit (admission/slots.ts); the soft limit is raised to the hard one first.
  const fdLimit = raiseOpenFileLimit();
  const limits = slotLimits(fdLimit);
  log.info("connection limits", { fd_limit: fdLimit ?? "unknown", max_connections: limits.max });
  const admission = new Admission({
    agentUid: deps.agentUid,
    denyRoot: config.denyRoot,
    limits,
    log,
    onRefused: (refusal) =>
      core.audit.record({
        event: "connection",
        decision: "deny",
        reason: refusal.reason,
        credential: null,
        pid: refusal.pid,
        uid: refusal.uid,
        exe: null,
        door: refusal.door,
        ...(refusal.count > 1 ? { count: refusal.count } : {}),
        ...(refusal.door.startsWith("database:") ? { database: refusal.door.slice("database:".length) } : {}),
      }),
  });
  // The counts of refusals still being counted are written at stop (before the audit log closes).
  resources.defer(() => admission.flush());
  const server = createHttpServer((request, actor) => app.fetch(request, actor), {
    admission,
    door: "api",
    headersTimeoutMs: deps.requestDeadlineMs,
    bodyTimeoutMs: deps.requestDeadlineMs,
    idleTimeoutMs: deps.idleTimeoutMs,
    log,
  });

  // The session token is written once the single-instance lock is held and before the socket or
  // pipe accepts anything: a client that connects finds the token of the agent that answers it
  // (`start` polls a pipe as soon as it exists). Systemd's socket listens before we run; there
  // the token follows.
  const writeToken = () => {
    sessionToken = createSessionToken(sessionTokenPath(deps.socketPath, deps.pathEnv));
  };
  const onStream = (stream: Stream) => server.onStream(stream);
  const listener = deps.activation
    ? await listenActivated(deps.activation, deps.agentUid, onStream)
    : await listenLocal(deps.socketPath, pipeLockPath(deps.socketPath, deps.pathEnv), onStream, writeToken);
  resources.defer(() => listener.close());
  if (deps.activation) writeToken();
  if (!sessionToken) throw new Error("unreachable: the listener wrote no session token");
  return { admission, server, listener, health: () => healthBody(api) };
}
