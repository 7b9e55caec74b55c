import type net from "node:net";
import { CredagentError } from "../../errors.ts";
import type { DatabaseConfig } from "../../config/databases.ts";
import { nodeStream, type Stream } from "../../transport/stream.ts";
import type { DbLogin } from "../login.ts";
import { connectTcp, startTls } from "../server-connection.ts";
import { ReplyScanner } from "./replies.ts";
import { multibulk } from "./session.ts";

// The proxy's side toward the Redis server: TCP, TLS as configured (Redis starts TLS at once, no
// negotiation), then AUTH with the credential before any byte of the client's is sent. Returns
// once the server said OK; from then on the session (session.ts) relays.

/** The server refused the login: its error reply (WRONGPASS when the password is not, or no longer, the user's). */
export class RedisRefused extends CredagentError {
  constructor(
    readonly reply: string,
    message: string,
  ) {
    super("upstream_auth", message);
  }

  get wrongPassword(): boolean {
    return this.reply.startsWith("WRONGPASS") || this.reply.startsWith("ERR invalid password");
  }
}

export interface RedisServer {
  stream: Stream;
  /** What the server sent after its answer to AUTH (nothing, in practice), for the client. */
  early: Uint8Array;
}

const encoder = new TextEncoder();

/**
 * The AUTH command for a login: `AUTH user password`, or `AUTH password` for the default user (the
 * only form a server with requirepass and no ACL users, or older than 6, reads). The caller zeroes it once written.
 */
export function authCommand(login: DbLogin): Uint8Array {
  const password = login.password.bytes();
  const args =
    login.user === "default" ? [encoder.encode("AUTH"), password] : [encoder.encode("AUTH"), encoder.encode(login.user), password];
  return multibulk(args);
}

export async function connectRedis(db: DatabaseConfig, login: DbLogin, timeoutMs: number): Promise<RedisServer> {
  const raw = await connectTcp(db, timeoutMs);
  let socket: net.Socket = raw;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    socket.destroy();
  }, timeoutMs);
  try {
    if (db.tls !== "disable") socket = await startTls(db, raw);
    const stream = nodeStream(socket);
    const reply = await new Promise<{ text: string; type: number; early: Uint8Array }>((resolve, reject) => {
      const scanner = new ReplyScanner();
      stream.onData = (bytes) => {
        const step = scanner.scan(bytes, 0);
        if (step.kind === "more") return;
        stream.pause();
        if (step.kind === "error") return reject(new CredagentError("upstream_auth", `the Redis server's answer to AUTH: ${step.message}`));
        resolve({ text: step.reply.text, type: step.reply.type, early: bytes.slice(step.end) });
      };
      stream.onClose = () =>
        reject(
          new CredagentError(
            "unavailable",
            timedOut
              ? `the Redis server ${db.host}:${db.port} did not answer the login within ${timeoutMs / 1000} s`
              : `the Redis server ${db.host}:${db.port} closed the connection during the login`,
          ),
        );
      const command = authCommand(login);
      stream.write(command, () => command.fill(0));
    });
    stream.onData = () => {};
    stream.onClose = () => {};
    if (reply.type !== 0x2b) {
      stream.destroy();
      throw new RedisRefused(reply.text, `the Redis server refused the login as '${login.user}': ${reply.text}`);
    }
    return { stream, early: reply.early };
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
