import { closeSync, fstatSync, mkdirSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { createApp } from "../api/app.ts";
import { loadConfig, type AgentConfig } from "../config/load.ts";
import { parseDuration } from "../duration.ts";
import { CredagentError, describe } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import { controllingTerminal, terminalName } from "../identity/process-info.ts";
import {
  configPath,
  currentPathEnv,
  defaultSocketPath,
  fileStoreDir,
  isWindowsPipe,
  pipeLockPath,
  sessionTokenPath,
  stateDir,
} from "../paths.ts";
import { desktopPrompt } from "../platform/desktop-prompt.ts";
import { disableTracing, overwriteFreedNativeMemory, raiseOpenFileLimit, takeEnvironmentValue } from "../platform/process-hardening.ts";
import { systemClock } from "../refresh/clock.ts";
import { CredentialRegistry } from "../refresh/registry.ts";
import { Secret } from "../secret.ts";
import { LazyStore, openStore, readPassphraseFile, type KeyringChoice } from "../store/open.ts";
import { listenActivated, takeActivation, takeLaunchdActivation, type Activation } from "../transport/activation.ts";
import { listenLocal } from "../transport/listen.ts";
import type { Stream } from "../transport/stream.ts";
import type { UnixListener } from "../transport/unix.ts";
import { VERSION } from "../version.ts";
import { createAccessControl, mayAnswerApproval } from "../policy/access.ts";
import { AuditLog } from "../log/audit.ts";
import { ConfirmationBroker } from "../policy/confirm.ts";
import { ConnectionTable } from "../connections/table.ts";
import { createKeptFiles, filePlaces } from "../files/agent.ts";
import { pgpassPath } from "../files/specs.ts";
import { serveUntilStopped } from "./lifecycle.ts";
import { toDefinitions } from "./definitions.ts";
import { AgentLock } from "../policy/lock.ts";
import { slotLimits } from "../admission/slots.ts";
import { Admission } from "../admission/admission.ts";
import { createLogger, type Logger } from "../log/log.ts";
import { FloodGuard } from "../log/flood.ts";
import { rotatingFileSink, stderrSink, swallowStdioErrors, type LogSink } from "../log/sink.ts";
import { stdioFollows } from "../platform/stdio.ts";
import { parseAgentOptions } from "./options.ts";
import { createHttpServer } from "../http/server.ts";
import { ConfigReloader } from "./reload.ts";
import { startDatabaseProxy } from "../dbproxy/agent.ts";
import { describeEndpoints, type ServedEndpoint } from "../dbproxy/endpoints.ts";
import { createSessionToken } from "./session-token.ts";
import { startSdkEndpoints } from "../endpoints/start.ts";
import { persistToken, restoreTokens } from "../refresh/token-cache.ts";

/** `credagent agent`: returns the process exit code. */
export async function runAgent(argv: string[]): Promise<number> {
  // First, before any secret is read: from here on, other processes of this user cannot read the
  // agent's memory or environment, attach a debugger, or make it dump core.
  const tracing = disableTracing();
  const freedMemory = overwriteFreedNativeMemory();
  swallowStdioErrors();
  const parsed = parseAgentOptions(argv);
  if ("exit" in parsed) return parsed.exit;
  const { args, level, lifetimeMs } = parsed;

  const pathEnv = currentPathEnv();
  // Started at the first connection by systemd (socket activation) or launchd (its LaunchAgent): their socket, its path.
  let activation: Activation | null;
  try {
    activation = process.platform === "win32" ? null : (takeLaunchdActivation() ?? takeActivation());
  } catch (err) {
    stderrSink()(`credagent: ${describe(err)}\n`);
    return EXIT.failed;
  }
  const socketPath = activation?.path ?? args.socket ?? defaultSocketPath(pathEnv);
  const configLocation = configPath(pathEnv, args.config);
  const stderr = stderrSink();
  const logFile = args["log-file"]
    ? openLogFile(dirname(args["log-file"]), args["log-file"])
    : args.debug
      ? undefined
      : openLogFile(stateDir(pathEnv), join(stateDir(pathEnv), "agent.log"));
  const logSink = logFile && "sink" in logFile ? logFile.sink : stderr;
  // What any one peer can make the agent log is bounded: a few lines of a kind per window.
  const logGuard = new FloodGuard();
  const log = createLogger(logSink, level, Date.now, process.pid, logGuard);
  if (logFile && "error" in logFile) log.warn("cannot open the log file; logging to stderr", { error: logFile.error });
  // `credagent start` points the agent's stderr at the log file too: a reason to fail is said there once.
  const logsToStderr = logSink === stderr || (logFile !== undefined && "sameAsStderr" in logFile && logFile.sameAsStderr);
  const fail = (err: unknown) => failStart(err, { log, stderr, logsToStderr, readyFd: args["ready-fd"] });

  for (const problem of tracing.problems) log.warn("the agent's memory stays open to this user's other processes", { why: problem });
  if (freedMemory) log.warn("copies of secrets in freed memory may outlive a lock", { why: freedMemory });

  let config: AgentConfig;
  try {
    config = loadConfig(configLocation.path, configLocation.explicit);
  } catch (err) {
    return fail(err);
  }

  // Read once and removed, so that no command source ever sees it in its environment.
  const fromEnv = takeEnvironmentValue("CREDAGENT_FILE_PASSPHRASE");
  // Held as bytes, for the life of the agent: the store is opened again after an unlock.
  const envPassphrase = fromEnv === undefined ? undefined : new Secret(fromEnv);
  const keyring = (args.keyring as KeyringChoice | undefined) ?? config.keyring;
  const fileDir = fileStoreDir(pathEnv);
  let fallbackTold = false;
  // Without a passphrase the file store waits, locked, for one from `credagent unlock`.
  const store = new LazyStore(
    (given) =>
      openStore({
        choice: keyring,
        fileDir,
        inAgent: true,
        passphrase: async () => {
          const held = envPassphrase ?? given;
          if (held) return new Secret(held.bytes().slice());
          return config.filePassphraseFile ? readPassphraseFile(config.filePassphraseFile) : null;
        },
        // Once per agent: while the file store waits, each use tries the keyring again.
        onNotice: (message) => {
          if (!fallbackTold) log.warn(message);
          fallbackTold = true;
        },
      }).then((opened) => {
        log.info("secret store opened", { store: opened.description });
        return opened;
      }),
    { waiting: keyring === "file" && !envPassphrase && !config.filePassphraseFile },
  );
  if (store.status().state === "locked") {
    log.warn("the encrypted file store is locked until 'credagent unlock' gives the agent its passphrase", { store: fileDir });
  }

  const startedAt = Date.now();
  // Built once the registry is (its tokens fill the files; its events rewrite them).
  let files!: ReturnType<typeof createKeptFiles>;
  const registry: CredentialRegistry = new CredentialRegistry({
    clock: systemClock,
    random: Math.random,
    onEvent: (event) => {
      if (event.kind === "fetched") {
        log.info("token obtained", { credential: event.name, expires_at: iso(event.token.expiresAt), refresh_at: iso(event.refreshAt) });
        const def = registry.definition(event.name);
        if (event.persist && def) persistToken(store, event.name, def.fingerprint, event.token, log);
        files.keeper.credentialChanged(event.name);
      } else if (event.kind === "idle") {
        log.info("credential idle: not refreshed until asked for again", { credential: event.name, last_asked_at: iso(event.lastAskedAt) });
      } else {
        log.warn("token fetch failed", {
          credential: event.name,
          error: event.error,
          retry_at: event.retryAt ? iso(event.retryAt) : undefined,
        });
      }
    },
  });
  const places = filePlaces(socketPath, pathEnv);
  const connections = new ConnectionTable({ pgpassPath: pgpassPath(places) });
  files = createKeptFiles({ registry, connections, places, pathEnv, env: process.env, log });
  registry.apply(toDefinitions(config, process.env, store), { prefetch: false });
  if (config.credentials.some((c) => c.source !== "static")) {
    const restored = await restoreTokens(store, registry, Date.now(), log);
    if (restored > 0) log.info("cached tokens restored", { count: restored });
  }
  registry.prefetchAll();
  connections.apply(config);
  files.apply(config);

  const audit = new AuditLog(stateDir(pathEnv), (err) => log.warn("cannot write the audit log", { error: describe(err) }));
  const confirmations = new ConfirmationBroker({
    timeoutMs: config.confirmTimeoutMs,
    log,
    desktopPrompt: (question, timeoutMs) => desktopPrompt(question, timeoutMs),
  });
  const lock = new AgentLock({
    hash: (passphrase) => Bun.password.hash(passphrase, { algorithm: "argon2id" }),
    verify: (passphrase, hash) => Bun.password.verify(passphrase, hash),
    now: Date.now,
    onLock: () => {
      // No secret stays on disk while locked (user names are read before the tokens go, for kept files' blanks).
      files.keeper.lock();
      registry.forgetAll();
      confirmations.forget();
      store.close();
      // What was dropped is collected now, not at some later allocation (strings the runtime
      // made on the way can only be freed, not zeroed; see the README on lock).
      Bun.gc(true);
      log.info("agent locked: tokens and secrets zeroed and dropped from memory");
    },
    onUnlock: async () => {
      const restored = await restoreTokens(store, registry, Date.now(), log);
      registry.prefetchAll();
      files.keeper.unlock();
      log.info("agent unlocked", { cached_tokens_restored: restored });
    },
  });
  // The [databases] of the config in force (reloads change it; the endpoints are made at start).
  let databasesInForce = config.databases;
  let databaseProxy: { served(): ServedEndpoint[] } | undefined;
  const configState = new ConfigReloader({
    location: configLocation,
    initial: config,
    registry,
    store,
    env: process.env,
    log,
    now: Date.now,
    onApplied: (next) => {
      connections.apply(next);
      files.apply(next);
      databasesInForce = next.databases;
    },
  });
  const access = createAccessControl({ accessOf: (name) => registry.definition(name)?.access, audit, confirmations });
  const pipe = process.platform === "win32" || isWindowsPipe(socketPath);
  // Set once the agent serves: POST /v1/shutdown stops it as SIGTERM does.
  let stopper: ((reason: string) => void) | undefined;
  let sessionToken: ReturnType<typeof createSessionToken> | undefined;

  const app = createApp(
    {
      registry,
      lock,
      authorize: access.authorize,
      mayList: access.mayList,
      approvals: {
        list: () => confirmations.list(),
        answer: (id, approve, connection) => {
          const pending = confirmations.list().find((p) => p.id === id);
          const refusal = pending ? mayAnswerApproval(connection, pending, controllingTerminal) : null;
          if (refusal) throw new CredagentError("forbidden", refusal);
          // The audit line says who answered, on which terminal: a self-approval that got past the
          // checks (a detached program with a pseudo-terminal) is visible there.
          const pid = connection?.peer?.pid ?? 0;
          const tty = pid ? controllingTerminal(pid) : null;
          confirmations.answer(id, approve, {
            kind: "terminal",
            pid,
            exe: connection?.process?.exe ?? null,
            terminal: tty ? terminalName(tty) : null,
          });
        },
      },
      sessionToken: pipe || config.requireSessionToken ? (header) => sessionToken?.verify(header) ?? false : null,
      info: { version: VERSION, pid: process.pid, socket: socketPath, startedAt },
      config: configState,
      connections,
      databases: { list: () => describeEndpoints(databasesInForce, databaseProxy?.served() ?? [], pathEnv) },
      files: files.keeper,
      shutdown: (reason) => stopper?.(reason),
      store: {
        status: () => store.status(),
        unlock: async (passphrase) => {
          await store.unlock(passphrase);
          // What failed for want of the store tries again now, and cached tokens come back.
          const restored = await restoreTokens(store, registry, Date.now(), log);
          for (const credential of registry.list()) credential.retry();
          log.info("secret store unlocked", { cached_tokens_restored: restored });
        },
      },
      now: Date.now,
    },
    (err) => log.error("internal error", { error: describe(err), stack: err instanceof Error ? err.stack : undefined }),
  );
  // One admission step for every front door, with one pool of connection slots below the
  // descriptor limit (admission/slots.ts); the soft limit is raised to the hard one first.
  const fdLimit = raiseOpenFileLimit();
  const limits = slotLimits(fdLimit);
  log.info("connection limits", { fd_limit: fdLimit ?? "unknown", max_connections: limits.max });
  const admission = new Admission({
    agentUid: process.getuid?.() ?? 0,
    denyRoot: config.denyRoot,
    limits,
    log,
    onRefused: (refusal) =>
      audit.record({
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
  const requestDeadlineMs = args["request-deadline"] === undefined ? 10_000 : parseDuration(args["request-deadline"])!;
  const server = createHttpServer((request, actor) => app.fetch(request, actor), {
    admission,
    door: "api",
    headersTimeoutMs: requestDeadlineMs,
    bodyTimeoutMs: requestDeadlineMs,
    idleTimeoutMs: args["idle-timeout"] === undefined ? 60_000 : parseDuration(args["idle-timeout"])!,
    log,
  });

  // The session token is written once the single-instance lock is held and before the socket or
  // pipe accepts anything: a client that connects finds the token of the agent that answers it
  // (`start` polls a pipe as soon as it exists). Systemd's socket listens before we run; there
  // the token follows.
  const writeToken = () => {
    sessionToken = createSessionToken(sessionTokenPath(socketPath, pathEnv));
  };
  let listener: UnixListener;
  try {
    const onStream = (stream: Stream) => server.onStream(stream);
    listener = activation
      ? await listenActivated(activation, process.getuid?.() ?? 0, onStream)
      : await listenLocal(socketPath, pipeLockPath(socketPath, pathEnv), onStream, writeToken);
  } catch (err) {
    sessionToken?.remove();
    if (err instanceof CredagentError && err.code === "agent_running") {
      stderr(`credagent: ${err.message}\n`);
      return EXIT.agentRunning;
    }
    return fail(err);
  }
  if (activation) {
    try {
      writeToken();
    } catch (err) {
      listener.close();
      return fail(err);
    }
  }
  if (!sessionToken) throw new Error("unreachable: the listener wrote no session token");

  const databases = await startDatabaseProxy({
    config,
    pathEnv,
    registry,
    access,
    admission,
    startupTimeoutMs: requestDeadlineMs,
    locked: () => lock.locked,
    log,
  });
  databaseProxy = databases;
  let sdkEndpoints: ReturnType<typeof startSdkEndpoints>;
  try {
    sdkEndpoints = startSdkEndpoints({
      config,
      registry,
      locked: () => lock.locked,
      audit,
      log,
      socketPath,
      pathEnv,
      admission,
      requestDeadlineMs,
    });
  } catch (err) {
    sessionToken.remove();
    listener.close();
    return fail(err);
  }

  // The logger never throws and never writes through a stream that could raise another
  // exception here, so these handlers cannot feed themselves.
  process.on("unhandledRejection", (err) => log.error("unhandled rejection", { error: describe(err) }));
  process.on("uncaughtException", (err) => log.error("uncaught exception", { error: describe(err), stack: err.stack }));

  const stopped = serveUntilStopped({
    log,
    onStopper: (stop) => (stopper = stop),
    reload: () => configState.reload(),
    lifetimeMs,
    stopAccepting: () => listener.stopAccepting(),
    drain: [
      async (grace) => {
        // The SDK endpoints first (no new tokens over loopback), then the socket's requests.
        await sdkEndpoints?.stop();
        await server.drain(grace);
      },
      (grace) => databases.stop(grace),
    ],
    release: [
      // Kept files first: one kept blank keeps its user names, which the registry's stop drops.
      () => files.keeper.stop(),
      () => registry.stop(),
      () => sessionToken?.remove(),
      () => {
        // The counts of refusals, repeated decisions and log lines still being counted are written too.
        admission.flush();
        audit.flush({ closeWindows: true });
        audit.close();
        logGuard.flush();
      },
      () => listener.close(),
    ],
  });
  writeReadyFd(args["ready-fd"], "ready\n");
  log.info("agent ready", {
    pid: process.pid,
    socket: socketPath,
    ...(activation ? { socket_activated: true } : {}),
    config: config.path ?? `${configLocation.path} (absent)`,
    credentials: config.credentials.length,
    version: VERSION,
  });
  return stopped;
}

/** The agent cannot start: says why on stderr, in the log, and on the ready pipe of `credagent start`. */
function failStart(err: unknown, out: { log: Logger; stderr: LogSink; logsToStderr: boolean; readyFd: string | undefined }): number {
  const message = describe(err);
  // On stderr as plain text, for the person reading it; in the log file too when the log is
  // elsewhere; and on the ready pipe, which still works when the disk under the log is full.
  if (!out.logsToStderr) out.log.error("agent cannot start", { error: message });
  out.stderr(`credagent: ${message}\n`);
  writeReadyFd(out.readyFd, `error ${JSON.stringify(message)}\n`);
  return EXIT.failed;
}

/**
 * The log file, rotated by size (its stdout and stderr follow it when they are that file, as
 * under `credagent start`), or why it cannot be opened (the agent then logs to stderr rather
 * than not start).
 */
function openLogFile(dir: string, path: string): { sink: LogSink; sameAsStderr: boolean } | { error: string } {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = rotatingFileSink(path, { onRotate: stdioFollows });
    return { sink: file.sink, sameAsStderr: sameFile(file.fd(), 2) };
  } catch (err) {
    return { error: describe(err) };
  }
}

function sameFile(a: number, b: number): boolean {
  try {
    const [x, y] = [fstatSync(a), fstatSync(b)];
    return x.ino !== 0 && x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

function writeReadyFd(fdText: string | undefined, line: string): void {
  if (fdText === undefined || !/^\d+$/.test(fdText)) return;
  const fd = Number(fdText);
  try {
    writeSync(fd, line);
    closeSync(fd);
  } catch {
    // The starter gave up waiting; it will find the socket answering anyway.
  }
}

function iso(t: number): string {
  return new Date(t).toISOString();
}
