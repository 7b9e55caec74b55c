import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { CredagentError, describe } from "../errors.ts";
import type { DatabaseConfig } from "../config/databases.ts";

// The proxy's TCP connection to a database server and its TLS, for every protocol: the tls modes
// mean libpq's sslmode values (require: encrypted, unchecked; verify-ca: the chain; verify-full:
// the chain and the host name). How TLS starts is the protocol's: PostgreSQL asks first
// (SSLRequest), Redis starts TLS at once.

type Server = Pick<DatabaseConfig, "name" | "host" | "port" | "tls" | "caFile">;

export async function connectTcp(db: Server, timeoutMs: number): Promise<net.Socket> {
  const raw = net.connect({ host: db.host, port: db.port, timeout: timeoutMs });
  await new Promise<void>((resolve, reject) => {
    raw.once("connect", resolve);
    raw.once("error", (err) =>
      reject(new CredagentError("unavailable", `cannot reach the database server ${db.host}:${db.port}: ${describe(err)}`, { cause: err })),
    );
    raw.once("timeout", () => raw.destroy(new Error("connection timed out")));
  });
  raw.setTimeout(0);
  raw.setNoDelay(true);
  return raw;
}

/** TLS over `raw` as db.tls says (not "disable"); fails before any secret is sent. */
export async function startTls(db: Server, raw: net.Socket): Promise<tls.TLSSocket> {
  const verify = db.tls === "verify-ca" || db.tls === "verify-full";
  const secure = tls.connect({
    socket: raw,
    host: db.host,
    servername: net.isIP(db.host) ? undefined : db.host,
    ca: db.caFile ? readFileSync(db.caFile) : undefined,
    rejectUnauthorized: verify,
    // verify-ca: the chain only, as libpq; verify-full adds the host name (node's default check).
    checkServerIdentity: db.tls === "verify-full" ? tls.checkServerIdentity : () => undefined,
  });
  await new Promise<void>((resolve, reject) => {
    secure.once("secureConnect", resolve);
    secure.once("error", (err) =>
      reject(
        new CredagentError(
          "upstream_auth",
          `TLS with the database server ${db.host}:${db.port} failed (tls = "${db.tls}"${db.caFile ? `, ca_file ${db.caFile}` : ""}): ${describe(err)}; no password was sent`,
          { cause: err },
        ),
      ),
    );
  });
  return secure;
}
