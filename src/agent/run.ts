import { loadConfig } from "../config/load.ts";
import { CredagentError, describe } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import { configPath, currentPathEnv, defaultSocketPath } from "../paths.ts";
import { capabilities } from "../platform/os.ts";
import { disableTracing, overwriteFreedNativeMemory } from "../platform/process-hardening.ts";
import { releaseStartupPages } from "../platform/startup-pages.ts";
import type { Logger } from "../log/log.ts";
import { stderrSink } from "../log/sink.ts";
import { takeActivation, takeLaunchdActivation, type Activation } from "../transport/activation.ts";
import { VERSION } from "../version.ts";
import { buildCore } from "./core.ts";
import { openFrontDoors } from "./front-doors.ts";
import { serveUntilStopped } from "./lifecycle.ts";
import { openAgentLogging } from "./logging.ts";
import { parseAgentOptions, startOptions } from "./options.ts";
import { executableIdentity, executableReplaced } from "../platform/executable.ts";
import { startSideServices, type SideServices } from "./side-services.ts";
import { openAgentStore } from "./store.ts";

// `credagent agent`, the composition root: the agent is built in phases — logging, config, the
// secret store, the core (credentials, files, policy), the front doors (admission, API, socket),
// the side services (database and SDK endpoints) — and every resource a phase starts is recorded
// once, in one stack. A phase that fails releases exactly what the phases before it started; a
// normal stop drains the front doors, then releases the stack in reverse.

/** `credagent agent`: returns the process exit code. */
export async function runAgent(argv: string[]): Promise<number> {
  // First, before any secret is read: from here on, other processes of this user cannot read the
  // agent's memory or environment, attach a debugger, or make it dump core.
  const tracing = disableTracing();
  const freedMemory = overwriteFreedNativeMemory();
  const options = parseAgentOptions(argv);
  if ("exit" in options) return options.exit;

  const pathEnv = currentPathEnv();
  // Started at the first connection by systemd (socket activation) or launchd (its LaunchAgent): their socket, its path.
  let activation: Activation | null;
  try {
    activation = capabilities.socketActivation ? (takeLaunchdActivation() ?? takeActivation()) : null;
  } catch (err) {
    stderrSink()(`credagent: ${describe(err)}\n`);
    return EXIT.failed;
  }
  const socketPath = activation?.path ?? options.socket ?? defaultSocketPath(pathEnv);
  const location = configPath(pathEnv, options.config);
  const logging = openAgentLogging(options, pathEnv);
  const { log } = logging;
  for (const problem of tracing.problems) log.warn("the agent's memory stays open to this user's other processes", { why: problem });
  if (freedMemory) log.warn("copies of secrets in freed memory may outlive a lock", { why: freedMemory });

  const resources = new AsyncDisposableStack();
  // Set once the agent serves: POST /v1/shutdown stops it as SIGTERM does.
  let stopper: ((reason: string) => void) | undefined;
  let side: SideServices | undefined;
  const startedAt = Date.now();
  // The program file as it was at start: an upgrade that replaces it is told in health.
  const executable = executableIdentity(process.execPath);
  const { requestDeadlineMs } = options;
  try {
    const config = loadConfig(location.path, location.explicit);
    const store = openAgentStore({ config, keyring: options.keyring, pathEnv, log });
    const core = await buildCore({ config, location, store, socketPath, pathEnv, log }, resources);
    const agentUid = pathEnv.uid;
    const doors = await openFrontDoors(
      {
        core,
        config,
        store,
        socketPath,
        activation,
        pathEnv,
        agentUid,
        log,
        requestDeadlineMs,
        idleTimeoutMs: options.idleTimeoutMs,
        startedAt,
        // Started by the session's service: socket activation, or `start --service`.
        service: activation !== null || options.service,
        startedWith: startOptions(socketPath, options),
        binaryReplaced: () => executableReplaced(process.execPath, executable),
        late: { served: () => side?.databases.served() ?? [], stop: (reason) => stopper?.(reason) },
      },
      resources,
    );
    // Listening: the cached tokens are read now, off the path of the start.
    core.beginRestore();
    side = await startSideServices({ core, config, admission: doors.admission, socketPath, pathEnv, requestDeadlineMs, log }, resources);
    const services = side;

    // The logger never throws and never writes through a stream that could raise another
    // exception here, so these handlers cannot feed themselves.
    process.on("unhandledRejection", (err) => log.error("unhandled rejection", { error: describe(err) }));
    process.on("uncaughtException", (err) => log.error("uncaught exception", { error: describe(err), stack: err.stack }));

    const stopped = serveUntilStopped({
      log,
      onStopper: (stop) => (stopper = stop),
      reload: () => core.config.reload(),
      lifetimeMs: options.lifetimeMs,
      stopAccepting: () => doors.listener.stopAccepting(),
      drain: [
        async (grace) => {
          // The SDK endpoints first (no new tokens over loopback), then the socket's requests.
          await services.sdkEndpoints?.stop();
          await doors.server.drain(grace);
        },
        (grace) => services.databases.stop(grace),
      ],
      release: async () => {
        await resources.disposeAsync();
        logging.guard.flush();
      },
    });
    logging.ready(doors.health());
    log.info("agent ready", {
      pid: process.pid,
      socket: socketPath,
      ...(activation ? { socket_activated: true } : {}),
      config: config.path ?? `${location.path} (absent)`,
      credentials: config.credentials.length,
      version: VERSION,
    });
    releaseWhenStarted(core.restored, log);
    return await stopped;
  } catch (err) {
    // What the phases before the failure started, and only that, is released.
    await resources.disposeAsync().catch((e) => log.warn("releasing after a failed start failed", { error: describe(e) }));
    if (err instanceof CredagentError && err.code === "agent_running") {
      logging.stderr(`credagent: ${err.message}\n`);
      return EXIT.agentRunning;
    }
    return logging.fail(err);
  }
}

/** How long after its start-up (the cached tokens read) the agent waits for the first requests before releasing. */
const STARTED_AFTER_MS = 300;

/**
 * Once started, the agent gives back what only its start-up used: the pages of read-only file
 * mappings it touched (platform/startup-pages.ts) and the garbage of loading its modules and
 * config, collected at once rather than at some later allocation (issue 28: the idle agent's memory).
 */
function releaseWhenStarted(restored: Promise<unknown>, log: Logger): void {
  void restored.then(() => {
    const timer = setTimeout(() => {
      try {
        const released = releaseStartupPages();
        if (released !== null) log.debug("start-up pages released", { kb: released });
      } catch (err) {
        log.debug("start-up pages not released", { error: describe(err) });
      }
      Bun.gc(true);
    }, STARTED_AFTER_MS);
    timer.unref();
  });
}
