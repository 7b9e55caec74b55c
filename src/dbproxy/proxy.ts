import { dirname, join } from "node:path";
import type { Admission, Door, Held } from "../admission/admission.ts";
import type { AccessDecision } from "../api/deps.ts";
import { allowedDatabases, databaseSocketPath, type DatabaseConfig } from "../config/databases.ts";
import { CredagentError, describe } from "../errors.ts";
import type { Actor } from "../identity/actor.ts";
import type { PeerIdentity } from "../identity/actor.ts";
import type { Logger } from "../log/log.ts";
import type { PathEnv } from "../paths.ts";
import type { Stream } from "../transport/stream.ts";
import { listenTcp, type TcpListener } from "../transport/tcp.ts";
import { ensurePrivateDir, listenUnixStreams, type UnixListener } from "../transport/unix.ts";
import { loginFor, serverLoginFor, type CurrentToken, type DbLogin } from "./login.ts";
import type { Kdc } from "../kerberos/kdc.ts";
import { serviceCredentials } from "./gss.ts";
import { SealedStream } from "./gss-stream.ts";
import { RefusedPasswords } from "./refused.ts";
import type { ServedEndpoint } from "./endpoints.ts";
import { errorPacket } from "./mysql/messages.ts";
import { serveMysql } from "./mysql/session.ts";
import { RedisSession } from "./redis/session.ts";
import { authCommand, connectRedis, RedisRefused } from "./redis/upstream.ts";
import { relay } from "./relay.ts";
import { pollUntil, systemClock, type Clock } from "../time/clock.ts";
import { connectUpstream, forwardCancel, ServerRefused } from "./upstream.ts";
import { CANCEL_REQUEST, errorResponse, FrameReader, GSSENC_REQUEST, PROTOCOL_3, SSL_REQUEST, startupParameters } from "./wire.ts";

// One listener per [databases.NAME]: a client connects with no password, passes the admission
// step every front door shares (who it is, a slot), then the credential's allow rules and confirm
// and an audit line, as a token request on the agent's socket does; and is joined to a server
// connection the agent authenticated with the credential. PostgreSQL: after AuthenticationOk the
// proxy copies bytes and parses nothing (relay.ts). Redis: the proxy reads the commands' framing to
// answer the client's AUTH itself (redis/session.ts). MySQL: the proxy greets the client as the
// server would and reads the client's packet headers to answer COM_CHANGE_USER (mysql/session.ts).

export interface DbProxyDeps {
  databases: DatabaseConfig[];
  /** Databases of the config this agent cannot serve at all, and why (listed as such). */
  notServed?: Array<{ db: DatabaseConfig; reason: string }>;
  pathEnv: PathEnv;
  agentUid: number;
  admission: Admission;
  /** The same decision (and audit line) as a token request on the agent's socket. */
  authorize(credential: string, actor: Actor, database: string): Promise<AccessDecision>;
  token: CurrentToken;
  /** Service tickets for kerberos credentials (the agent's Kerberos worker). */
  kdc: Kdc;
  locked(): boolean;
  /** How long the server has for TCP, TLS and authentication. */
  connectTimeoutMs: number;
  /** Injected by tests; the system clock otherwise. */
  clock?: Clock;
  /** How long a client has to send its startup packet (and any SSL/GSS requests before it). */
  startupTimeoutMs: number;
  log: Logger;
}

/** How a refused password waits for the credential's next value (a rotation under way). */
const ROTATION_WAIT_MS = 3_000;
/** What a client may send before its session is joined to the server: its startup, and a little ahead. */
const MAX_EARLY_BYTES = 64 * 1024;

class Session implements Held {
  server: { destroy(): void } | null = null;
  constructor(readonly client: Stream) {}
  // A session is never idle: closing one loses a client's work. It is closed only when its
  // process is the largest holder at the cap (admission/slots.ts).
  idle(): boolean {
    return false;
  }
  evict(): void {
    this.server?.destroy();
    this.client.destroy();
  }
}

export class DatabaseProxy {
  #listeners: UnixListener[] = [];
  #tcpListeners: TcpListener[] = [];
  #served: ServedEndpoint[] = [];
  #sessions = new Set<Session>();
  #onEmpty: (() => void) | undefined;
  // Databases whose sessions are under GSS encryption: their cancels go in the clear, as libpq's.
  #sealed = new Set<string>();
  readonly #refused = new RefusedPasswords();

  constructor(private readonly deps: DbProxyDeps) {}

  /** Listens for every database; a database whose socket cannot be made is logged and skipped. */
  async start(): Promise<void> {
    for (const { db, reason } of this.deps.notServed ?? []) {
      this.#served.push({ db, transport: "unix", address: databaseSocketPath(this.deps.pathEnv, db), error: reason });
      if (db.listen) this.#served.push({ db, transport: "tcp", address: `${db.listen.host}:${db.listen.port}`, error: reason });
    }
    for (const db of this.deps.databases) {
      const path = databaseSocketPath(this.deps.pathEnv, db);
      const dir = dirname(path);
      try {
        // credagent/ and credagent/db/ are private too, each made 0700 and checked.
        ensurePrivateDir(join(dir, "..", ".."), this.deps.agentUid);
        ensurePrivateDir(join(dir, ".."), this.deps.agentUid);
        const answer = db.protocol === "redis" ? redisRefusal : db.protocol === "mysql" ? mysqlRefusal : startupRefusal;
        // One door for the socket and the loopback listener: the same admission, slots and rules.
        const door = this.deps.admission.door(`database:${db.name}`, { answer, weight: 2, tcpProcess: true });
        this.#listeners.push(await listenUnixStreams(path, this.deps.agentUid, (stream) => this.#accept(db, door, stream)));
        this.#served.push({ db, transport: "unix", address: path });
        if (db.listen) this.#listenTcp(db, door);
        this.deps.log.info("database endpoint listening", {
          database: db.name,
          protocol: db.protocol,
          socket: path,
          server: `${db.host}:${db.port}`,
          tls: db.tls,
          ...(db.protocol === "postgresql" ? { serves: allowedDatabases(db).join(",") } : {}),
        });
      } catch (err) {
        this.#served.push({ db, transport: "unix", address: path, error: describe(err) });
        this.deps.log.error("database endpoint not served", { database: db.name, error: describe(err) });
      }
    }
  }

  /**
   * `listen`: a loopback TCP listener for clients that cannot open a Unix socket. Its peers pass
   * the same door: the kernel names the connecting socket's owner by its 4-tuple and its process
   * by the socket's inode (identity/identify.ts); another uid, or a source address other than the
   * listener's own, is refused before any byte is relayed.
   */
  #listenTcp(db: DatabaseConfig, door: Door): void {
    const { host, port } = db.listen!;
    const address = `${host}:${port}`;
    try {
      this.#tcpListeners.push(listenTcp(host, port, (stream) => this.#accept(db, door, stream)));
      this.#served.push({ db, transport: "tcp", address });
      this.deps.log.info("database endpoint listening", { database: db.name, protocol: db.protocol, listen: address });
    } catch (err) {
      this.#served.push({ db, transport: "tcp", address, error: describe(err) });
      this.deps.log.error("database endpoint not served", { database: db.name, listen: address, error: describe(err) });
    }
  }

  /** The endpoints listened on since start (and those that failed, with why), for GET /v1/databases. */
  served(): ServedEndpoint[] {
    return [...this.#served];
  }

  /** Stops accepting; open sessions have graceMs to finish, then are closed. */
  async stop(graceMs: number): Promise<void> {
    for (const l of this.#listeners) l.close();
    this.#listeners = [];
    for (const l of this.#tcpListeners) l.stop();
    this.#tcpListeners = [];
    if (this.#sessions.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#onEmpty = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const s of this.#sessions) s.evict();
  }

  #accept(db: DatabaseConfig, door: Door, stream: Stream): void {
    let actor: Actor | undefined;
    const session = door.admit(stream, (a) => {
      actor = a;
      return new Session(stream);
    });
    if (!session || !actor) return;
    this.#sessions.add(session);
    if (db.protocol === "redis") return void this.#serveRedis(db, door, session, actor);
    if (db.protocol === "mysql") return void this.#serveMysql(db, door, session, actor);
    const reader = new FrameReader(MAX_EARLY_BYTES);
    stream.onData = (bytes) => reader.push(bytes);
    stream.onEnd = () => reader.end();
    let relayed = false;
    stream.onClose = () => {
      reader.end();
      if (!relayed) this.#closed(door, session);
    };
    void this.#serve(db, session, actor, reader).then((joined) => {
      if (!joined) return stream.end();
      relayed = true;
      relay(stream, joined.socket, { first: joined.first, early: reader.rest() }, () => this.#closed(door, session));
    });
  }

  #closed(door: Door, session: Session): void {
    if (!this.#sessions.delete(session)) return;
    door.release(session);
    if (this.#sessions.size === 0) this.#onEmpty?.();
  }

  /** The same decision (and audit line) as a token request on the agent's socket; throws when refused. */
  async #authorize(db: DatabaseConfig, actor: Actor): Promise<void> {
    const decision = await this.deps.authorize(db.credential, actor, db.name);
    if (!decision.allowed)
      throw new CredagentError(
        "forbidden",
        `database '${db.name}' (credential '${db.credential}') is not for this process: ${decision.reason}`,
      );
    if (this.deps.locked()) throw new CredagentError("locked", "the agent is locked; run 'credagent unlock'");
  }

  /**
   * A Redis client: checked as soon as it connects, then joined to a server connection logged in
   * with the credential. A refusal is an error reply (the answer to the client's first command), then the close.
   */
  async #serveRedis(db: DatabaseConfig, door: Door, session: Session, actor: Actor): Promise<void> {
    const client = session.client;
    // Nothing is read until the session starts: what the client sends meanwhile waits in the kernel.
    client.pause();
    let closed = false;
    client.onClose = () => {
      closed = true;
      this.#closed(door, session);
    };
    try {
      await this.#authorize(db, actor);
      const { server, login } = await this.#redisLogin(db);
      if (closed) return server.stream.destroy();
      session.server = server.stream;
      const redis = new RedisSession(client, server.stream, {
        user: login.user,
        loginCommand: async () => authCommand(await loginFor(db, this.deps.token)),
        warn: (message) => this.deps.log.warn(message, { database: db.name, pid: actor.peer?.pid }),
      });
      redis.start(server.early);
      // The session took the client's handlers; its close still frees the slot.
      const onClose = client.onClose;
      client.onClose = () => {
        onClose();
        this.#closed(door, session);
      };
    } catch (err) {
      client.write(redisRefusal("forbidden", describe(err)));
      // Its first command read and dropped before the close, so that it reads the reply.
      client.onEnd = () => client.destroy();
      client.end({ linger: true });
      this.deps.log.warn("database connection refused", { database: db.name, pid: actor.peer?.pid, error: describe(err) });
    }
  }

  /** A MySQL client: greeted, checked and logged in by its session (mysql/session.ts). */
  #serveMysql(db: DatabaseConfig, door: Door, session: Session, actor: Actor): Promise<void> {
    return serveMysql(session.client, {
      db,
      actor,
      authorize: () => this.#authorize(db, actor),
      login: () => loginFor(db, this.deps.token),
      newerLogin: (used) => this.#newerLogin(db, used),
      refusedLately: (login) => this.#refused.refused(db.name, login.password),
      refusal: (login, serverSaid) => {
        if (serverSaid !== null) this.#refused.remember(db.name, login.password);
        return passwordRefused(db, login.user, serverSaid ?? "", serverSaid === null);
      },
      joined: (server) => (session.server = server),
      closed: () => this.#closed(door, session),
      connectTimeoutMs: this.deps.connectTimeoutMs,
      handshakeTimeoutMs: this.deps.startupTimeoutMs,
      log: this.deps.log,
    });
  }

  /** As #login: a password overtaken by a rotation (WRONGPASS) is tried once more with the new one. */
  async #redisLogin(db: DatabaseConfig) {
    const first = await loginFor(db, this.deps.token);
    try {
      return { server: await connectRedis(db, first, this.deps.connectTimeoutMs), login: first };
    } catch (err) {
      if (!(err instanceof RedisRefused) || !err.wrongPassword) throw err;
      const next = await this.#newerLogin(db, first);
      if (!next) throw err;
      this.deps.log.info("password overtaken by a rotation; logging in again with the new one", { database: db.name });
      return { server: await connectRedis(db, next, this.deps.connectTimeoutMs), login: next };
    }
  }

  /** The startup, the access decision and the login upstream; null when the client was answered instead. */
  async #serve(db: DatabaseConfig, session: Session, actor: Actor, reader: FrameReader) {
    const client = session.client;
    const deadline = setTimeout(
      () => reader.end(new CredagentError("request_timeout", `no startup packet within ${this.deps.startupTimeoutMs / 1000} s`)),
      this.deps.startupTimeoutMs,
    );
    try {
      const params = await this.#startup(db, reader, client);
      clearTimeout(deadline);
      if (!params) return null;
      // Bytes the client sends ahead wait in the kernel while the proxy logs in.
      client.pause();
      const database = chooseDatabase(db, params);
      const decision = await this.deps.authorize(db.credential, actor, db.name);
      if (!decision.allowed)
        throw new CredagentError(
          "forbidden",
          `database '${db.name}' (credential '${db.credential}') is not for this process: ${decision.reason}`,
        );
      if (this.deps.locked()) throw new CredagentError("locked", "the agent is locked; run 'credagent unlock'");
      // The client's user is not used: the role is the credential's.
      params.delete("user");
      params.set("database", database);
      // The server's own views (pg_stat_activity, log_line_prefix %a) say which program connected.
      if (!params.get("application_name")) params.set("application_name", applicationName(actor.peer, actor.process?.exe ?? null));
      const server = await this.#login(db, params);
      if (reader.failed) {
        server.socket.destroy();
        return null;
      }
      session.server = server.socket;
      return server;
    } catch (err) {
      clearTimeout(deadline);
      // The client went away: nobody to answer.
      if (err === reader.failed && err instanceof CredagentError && err.code === "unavailable") return null;
      const frame = err instanceof ServerRefused ? err.frame : errorResponse(describe(err), sqlstateOf(err));
      client.write(frame);
      this.deps.log.warn("database connection refused", { database: db.name, pid: actor.peer?.pid, error: describe(err) });
      return null;
    }
  }

  /** The client's startup: SSL and GSS encryption declined (the socket is local), cancels forwarded. */
  async #startup(db: DatabaseConfig, reader: FrameReader, client: Stream): Promise<Map<string, string> | null> {
    for (let i = 0; i < 3; i++) {
      const body = await reader.untyped();
      const code = body.readInt32BE(0);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        client.write(Buffer.from("N"));
        continue;
      }
      if (code === CANCEL_REQUEST) {
        // The key is the server's own (the client got it in BackendKeyData through the pipe).
        const length = Buffer.alloc(4);
        length.writeInt32BE(body.length + 4);
        await forwardCancel(db, Buffer.concat([length, body]), this.deps.connectTimeoutMs, this.#sealed.has(db.name)).catch((err) =>
          this.deps.log.warn("cancel request not forwarded", { database: db.name, error: describe(err) }),
        );
        return null;
      }
      if (code !== PROTOCOL_3)
        throw new CredagentError("bad_request", `protocol ${code >> 16}.${code & 0xffff} is not supported; credagent speaks 3.0`);
      return startupParameters(body);
    }
    throw new CredagentError("bad_request", "too many encryption requests before the startup packet");
  }

  /**
   * Logs in with the credential's current value. PostgreSQL holds one password per role: when the
   * credential rotates just after its value was read, the server refuses it (28P01); then the
   * login is tried once more as soon as the credential holds a new value. A password refused for
   * good is the client's 28000 with what to do, and is not sent again (refused.ts).
   */
  async #login(db: DatabaseConfig, params: Map<string, string>) {
    const first = await serverLoginFor(db, this.deps.token);
    if ("ticket" in first) {
      // A Kerberos ticket: a service ticket for the server, and no rotation to wait for.
      const gss = await serviceCredentials(db, first, this.deps.kdc);
      try {
        const server = await connectUpstream(db, { kind: "kerberos", user: first.user, gss }, params, this.deps.connectTimeoutMs);
        if (server.socket instanceof SealedStream) this.#sealed.add(db.name);
        else this.#sealed.delete(db.name);
        return server;
      } finally {
        gss.release();
      }
    }
    if (this.#refused.refused(db.name, first.password)) throw passwordRefused(db, first.user, "", true);
    try {
      return await connectUpstream(db, first, params, this.deps.connectTimeoutMs);
    } catch (err) {
      if (!(err instanceof ServerRefused) || !err.passwordRefused) throw err;
      const next = await this.#newerLogin(db, first);
      if (!next) throw this.#refusal(db, first, err);
      this.deps.log.info("password overtaken by a rotation; logging in again with the new one", { database: db.name });
      try {
        return await connectUpstream(db, next, params, this.deps.connectTimeoutMs);
      } catch (again) {
        if (again instanceof ServerRefused && again.passwordRefused) throw this.#refusal(db, next, again);
        throw again;
      }
    }
  }

  /** The server refused this password: remembered, and the client told what to fix. */
  #refusal(db: DatabaseConfig, login: DbLogin, err: ServerRefused): CredagentError {
    this.#refused.remember(db.name, login.password);
    return passwordRefused(db, login.user, describe(err), false);
  }

  async #newerLogin(db: DatabaseConfig, used: DbLogin): Promise<DbLogin | null> {
    return pollUntil(
      async () => {
        const login = await loginFor(db, this.deps.token);
        return login.password !== used.password ? login : null;
      },
      { timeoutMs: ROTATION_WAIT_MS, intervalMs: 100, clock: this.deps.clock ?? systemClock },
    );
  }
}

/**
 * `credagent:<program>[<pid>]`, the program being the peer's executable's name. PostgreSQL keeps
 * 63 bytes of printable ASCII (others become '?'); the pid is kept whole, the name cut first.
 */
export function applicationName(peer: PeerIdentity | null, exe: string | null): string {
  const program = exe ? (exe.split("/").pop() ?? "") : "";
  const pid = peer ? `[${peer.pid}]` : "";
  const name = (program || "unknown").replace(/[^\x20-\x7e]/g, "?");
  return `credagent:${name.slice(0, 63 - "credagent:".length - pid.length)}${pid}`;
}

/**
 * The database the session is for: the one the client named, if the endpoint serves it, or the
 * endpoint's first when the client named none. Any other is refused (3D000): a [databases.X]
 * endpoint logs in with the credential's role, which may reach databases the config never named.
 */
export function chooseDatabase(db: DatabaseConfig, params: Map<string, string>): string {
  const asked = params.get("database");
  const served = allowedDatabases(db);
  if (asked === undefined || asked === "") {
    if (served[0] === "*") return params.get("user") ?? db.name;
    return served[0]!;
  }
  if (served.includes("*") || served.includes(asked)) return asked;
  throw new CredagentError(
    "forbidden",
    `database '${asked}' is not served by [databases.${db.name}] (it serves ${served.map((d) => `'${d}'`).join(", ")}); add it to databases = [...] there, or connect to one of those`,
  );
}

/** A refused password as the client reads it (SQLSTATE 28000): the server's words, and what to do. */
function passwordRefused(db: DatabaseConfig, user: string, serverSaid: string, again: boolean): CredagentError {
  const what = again
    ? `the database server refused the password of credential '${db.credential}' for role '${user}' a moment ago, and it has not changed since`
    : `${serverSaid.replace(/^the database server refused the login: /, `the database server refused the password of credential '${db.credential}' for role '${user}': `)}`;
  return new CredagentError(
    "upstream_auth",
    `${what}; set the right one (a stored password: credagent secret set ${db.credential}, then credagent refresh ${db.credential}). It is not sent again until the credential changes or ${RefusedPasswords.holdMinutes} minutes pass: a directory (LDAP, Active Directory) locks an account after a few wrong passwords`,
  );
}

/** The SQLSTATE for an error answered before the session starts. */
function sqlstateOf(err: unknown): string {
  if (err instanceof CredagentError && err.code === "forbidden" && err.message.startsWith("database '")) return "3D000";
  if (err instanceof CredagentError && (err.code === "bad_request" || err.code === "request_timeout")) return "08P01";
  return "28000";
}

/** A Redis client refused: an error reply (the answer to its first command). */
function redisRefusal(_code: string, message: string): Uint8Array {
  return new TextEncoder().encode(`-ERR credagent: ${message.replace(/[\r\n]+/g, " ")}\r\n`);
}

/** A MySQL client refused: an ERR packet in place of the greeting (clients read one there). */
function mysqlRefusal(_code: string, message: string): Uint8Array {
  return errorPacket(0, `credagent: ${message}`);
}

/** A PostgreSQL client refused: a FATAL ErrorResponse it shows after its startup. */
function startupRefusal(_code: string, message: string): Uint8Array {
  return errorResponse(message);
}
