import type net from "node:net";
import { dirname, join } from "node:path";
import type { AccessDecision, ConnectionBindings } from "../api/deps.ts";
import type { Logger } from "../log/log.ts";
import { CredagentError, describe } from "../errors.ts";
import { peerAllowed, readPeerIdentity, type PeerIdentity } from "../identity/peer.ts";
import { readProcessInfo } from "../identity/process-info.ts";
import type { PathEnv } from "../paths.ts";
import { nodeStream, socketFd } from "../transport/stream.ts";
import { ensurePrivateDir, listenUnix, type UnixListener } from "../transport/unix.ts";
import { databaseSocketPath, type DatabaseConfig } from "../config/databases.ts";
import { loginFor, type CurrentToken, type DbLogin } from "./login.ts";
import { connectUpstream, forwardCancel, ServerRefused } from "./upstream.ts";
import { CANCEL_REQUEST, errorResponse, FrameReader, GSSENC_REQUEST, PROTOCOL_3, SSL_REQUEST, startupParameters } from "./wire.ts";
import type { ServedEndpoint } from "./endpoints.ts";
import { RedisSession } from "./redis/session.ts";
import { authCommand, connectRedis, RedisRefused } from "./redis/upstream.ts";

// One listener per [databases.NAME]: a client of the agent's own user connects with no password,
// is checked as on the agent's socket (kernel peer credentials, the credential's allow rules and
// confirm, an audit line), and is joined to a server connection the agent authenticated with the
// credential. PostgreSQL: after AuthenticationOk the proxy copies bytes and parses nothing. Redis:
// the proxy reads the commands' framing to answer the client's AUTH itself (redis/session.ts).

export interface DbProxyDeps {
  databases: DatabaseConfig[];
  /** Databases of the config this agent cannot serve at all, and why (listed as such). */
  notServed?: Array<{ db: DatabaseConfig; reason: string }>;
  pathEnv: PathEnv;
  agentUid: number;
  denyRoot: boolean;
  /** The same decision (and audit line) as a token request on the agent's socket. */
  authorize(credential: string, connection: ConnectionBindings, database: string): Promise<AccessDecision>;
  onRefused(peer: PeerIdentity | null, database: string): void;
  token: CurrentToken;
  locked(): boolean;
  /** How long the server has for TCP, TLS and authentication. */
  connectTimeoutMs: number;
  log: Logger;
}

/** How long a refused password waits for the credential's next value (a rotation under way). */
const ROTATION_WAIT_MS = 3_000;

export class DatabaseProxy {
  #listeners: UnixListener[] = [];
  #served: ServedEndpoint[] = [];
  #sessions = new Set<net.Socket>();
  #onEmpty: (() => void) | undefined;

  constructor(private readonly deps: DbProxyDeps) {}

  /** Listens for every database; a database whose socket cannot be made is logged and skipped. */
  async start(): Promise<void> {
    for (const { db, reason } of this.deps.notServed ?? [])
      this.#served.push({ db, transport: "unix", address: databaseSocketPath(this.deps.pathEnv, db), error: reason });
    for (const db of this.deps.databases) {
      const path = databaseSocketPath(this.deps.pathEnv, db);
      const dir = dirname(path);
      try {
        // credagent/ and credagent/db/ are private too, each made 0700 and checked.
        ensurePrivateDir(join(dir, "..", ".."), this.deps.agentUid);
        ensurePrivateDir(join(dir, ".."), this.deps.agentUid);
        this.#listeners.push(await listenUnix(path, this.deps.agentUid, (socket) => void this.#serve(db, socket)));
        this.#served.push({ db, transport: "unix", address: path });
        this.deps.log.info("database endpoint listening", {
          database: db.name,
          protocol: db.protocol,
          socket: path,
          server: `${db.host}:${db.port}`,
          tls: db.tls,
        });
      } catch (err) {
        this.#served.push({ db, transport: "unix", address: path, error: describe(err) });
        this.deps.log.error("database endpoint not served", { database: db.name, error: describe(err) });
      }
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
    if (this.#sessions.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#onEmpty = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const s of this.#sessions) s.destroy();
  }

  async #serve(db: DatabaseConfig, client: net.Socket): Promise<void> {
    client.on("error", () => {});
    let peer: PeerIdentity | null;
    try {
      peer = readPeerIdentity(socketFd(client));
    } catch {
      peer = null;
      client.destroy();
      return;
    }
    if (!peerAllowed(peer, this.deps.agentUid, this.deps.denyRoot)) {
      this.deps.onRefused(peer, db.name);
      client.destroy();
      return;
    }
    this.#track(client);
    if (db.protocol === "redis") return this.#serveRedis(db, client, peer);
    const reader = new FrameReader(client);
    try {
      const params = await this.#startup(db, reader, client);
      if (!params) return;
      await this.#admit(db, peer);
      // The client's user is not used: the role is the credential's.
      params.delete("user");
      const server = await this.#login(db, params);
      const early = reader.detach();
      if (client.destroyed) {
        server.socket.destroy();
        return;
      }
      client.write(server.first);
      if (early.length) server.socket.write(early);
      relay(client, server.socket);
      relay(server.socket, client);
      server.socket.on("error", () => client.destroy());
      server.socket.on("close", () => client.destroy());
      client.on("close", () => server.socket.destroy());
    } catch (err) {
      if (err instanceof ServerRefused) client.end(err.frame);
      else client.end(errorResponse(describe(err)));
      this.deps.log.warn("database connection refused", { database: db.name, pid: peer?.pid, error: describe(err) });
    }
  }

  /** The same decision (and audit line) as a token request on the agent's socket; throws when refused. */
  async #admit(db: DatabaseConfig, peer: PeerIdentity | null): Promise<void> {
    const info = peer && process.platform === "linux" ? readProcessInfo(peer.pid) : null;
    const bindings: ConnectionBindings = { peer, process: info ? { exe: info.exe, startTime: info.startTime } : null };
    const decision = await this.deps.authorize(db.credential, bindings, db.name);
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
  async #serveRedis(db: DatabaseConfig, socket: net.Socket, peer: PeerIdentity | null): Promise<void> {
    const client = nodeStream(socket);
    // Nothing is read until the session starts: what the client sends meanwhile waits in the kernel.
    client.pause();
    try {
      await this.#admit(db, peer);
      const { server, login } = await this.#redisLogin(db);
      if (socket.destroyed) return server.stream.destroy();
      const session = new RedisSession(client, server.stream, {
        user: login.user,
        loginCommand: async () => authCommand(await loginFor(db, this.deps.token)),
        warn: (message) => this.deps.log.warn(message, { database: db.name, pid: peer?.pid }),
      });
      session.start(server.early);
    } catch (err) {
      client.write(new TextEncoder().encode(`-ERR credagent: ${describe(err).replace(/[\r\n]+/g, " ")}\r\n`));
      client.end({ linger: true });
      this.deps.log.warn("database connection refused", { database: db.name, pid: peer?.pid, error: describe(err) });
    }
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

  /** The client's startup: SSL and GSS encryption declined (the socket is local), cancels forwarded. */
  async #startup(db: DatabaseConfig, reader: FrameReader, client: net.Socket): Promise<Map<string, string> | null> {
    for (let i = 0; i < 3; i++) {
      const body = await reader.untyped();
      const code = body.readInt32BE(0);
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
        client.write("N");
        continue;
      }
      if (code === CANCEL_REQUEST) {
        // The key is the server's own (the client got it in BackendKeyData through the pipe).
        const length = Buffer.alloc(4);
        length.writeInt32BE(body.length + 4);
        await forwardCancel(db, Buffer.concat([length, body]), this.deps.connectTimeoutMs).catch((err) =>
          this.deps.log.warn("cancel request not forwarded", { database: db.name, error: describe(err) }),
        );
        client.end();
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
   * login is tried once more as soon as the credential holds a new value.
   */
  async #login(db: DatabaseConfig, params: Map<string, string>) {
    const first = await loginFor(db, this.deps.token);
    try {
      return await connectUpstream(db, first, params, this.deps.connectTimeoutMs);
    } catch (err) {
      if (!(err instanceof ServerRefused) || err.sqlstate !== "28P01") throw err;
      const next = await this.#newerLogin(db, first);
      if (!next) throw err;
      this.deps.log.info("password overtaken by a rotation; logging in again with the new one", { database: db.name });
      return connectUpstream(db, next, params, this.deps.connectTimeoutMs);
    }
  }

  async #newerLogin(db: DatabaseConfig, used: DbLogin): Promise<DbLogin | null> {
    const until = Date.now() + ROTATION_WAIT_MS;
    while (Date.now() < until) {
      const login = await loginFor(db, this.deps.token);
      if (login.password !== used.password) return login;
      await Bun.sleep(100);
    }
    return null;
  }

  #track(socket: net.Socket): void {
    this.#sessions.add(socket);
    socket.on("close", () => {
      this.#sessions.delete(socket);
      if (this.#sessions.size === 0) this.#onEmpty?.();
    });
  }
}

/**
 * Bytes from one socket to the other as they come, pausing the reader while the writer's buffer is
 * full. What stream.pipe does, without its per-chunk machinery: measured, pgbench -S through the
 * proxy (bench/dbproxy.ts).
 */
function relay(from: net.Socket, to: net.Socket): void {
  from.on("data", (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once("drain", () => from.resume());
    }
  });
  from.on("end", () => to.end());
  // The startup reader may have left it paused.
  from.resume();
}
