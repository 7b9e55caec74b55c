import { dirname, join } from "node:path";
import * as v from "valibot";
import { CredagentError } from "../errors.ts";
import { defaultSocketPath, type PathEnv } from "../paths.ts";

// `[databases.NAME]`: a local socket per database whose connections credagent authenticates to the
// real server with a credential. The tls modes mean what libpq's sslmode values mean, for every
// protocol (MySQL clients' ssl-mode REQUIRED, VERIFY_CA and VERIFY_IDENTITY are the same checks).

export const TLS_MODES = ["disable", "require", "verify-ca", "verify-full"] as const;
export type TlsMode = (typeof TLS_MODES)[number];

/** The wire protocols served; each has its socket's name (socketName) and its handler in src/dbproxy. */
export const DATABASE_PROTOCOLS = ["postgresql", "mysql", "redis"] as const;
export type DatabaseProtocol = (typeof DATABASE_PROTOCOLS)[number];

/** PostgreSQL's GSS encryption with a kerberos credential (libpq's gssencmode meanings). */
export const GSSENC_MODES = ["disable", "prefer", "require"] as const;
export type GssencMode = (typeof GSSENC_MODES)[number];

export interface DatabaseConfig {
  name: string;
  credential: string;
  protocol: DatabaseProtocol;
  host: string;
  port: number;
  tls: TlsMode;
  caFile?: string;
  /** The role to log in as, in place of the credential's username. */
  user?: string;
  /** A loopback TCP listener beside the socket, for clients that cannot open a Unix socket. */
  listen?: { host: string; port: number };
  /** PostgreSQL with a kerberos credential: GSS encryption (default prefer). */
  gssenc?: GssencMode;
  /** PostgreSQL with a kerberos credential: the server's principal (default postgres/HOST in the user's realm). */
  servicePrincipal?: string;
  /** The databases the endpoint serves; ["*"] for any. Unset in the file: the endpoint's own name. */
  databases: string[];
  /**
   * MySQL's caching_sha2_password without TLS: the password may be sent encrypted with the key the
   * server hands out on request (not authenticated: whoever answers at host:port can hand out theirs).
   */
  allowRsaPublicKey?: boolean;
}

/** The databases a [databases.NAME] endpoint serves, the default first. */
export function allowedDatabases(db: Pick<DatabaseConfig, "databases">): string[] {
  return db.databases;
}

const DATABASE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const SERVER = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;
const LOOPBACK_LISTEN = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}):(\d{1,5})$/;

/** The valibot entry for `databases`, added to the config schema. */
export const databasesSchema = v.record(
  v.pipe(v.string(), v.regex(DATABASE_NAME, "a database name may only use letters, digits, '.', '_' and '-' (1 to 64 of them)")),
  v.strictObject(
    {
      credential: v.pipe(v.string("expected the name of a credential"), v.minLength(1, "expected the name of a credential")),
      protocol: v.picklist(DATABASE_PROTOCOLS, `expected one of ${DATABASE_PROTOCOLS.map((p) => `"${p}"`).join(", ")}`),
      server: v.pipe(v.string("expected host:port"), v.regex(SERVER, 'expected host:port, e.g. "db.example.com:5432"')),
      tls: v.optional(v.picklist(TLS_MODES, 'expected "disable", "require", "verify-ca" or "verify-full"')),
      ca_file: v.optional(v.pipe(v.string(), v.minLength(1, "expected a path"))),
      user: v.optional(v.pipe(v.string(), v.minLength(1, "expected a role name"))),
      database: v.optional(v.pipe(v.string("expected a database name"), v.minLength(1, "expected a database name"))),
      databases: v.optional(
        v.pipe(
          v.array(v.pipe(v.string("expected database names"), v.minLength(1, "expected a database name"))),
          v.minLength(1, 'expected at least one database name, or ["*"] for any'),
        ),
      ),
      gssenc: v.optional(v.picklist(GSSENC_MODES, 'expected "disable", "prefer" or "require"')),
      service_principal: v.optional(
        v.pipe(v.string(), v.regex(/^[^\s@/]+\/[^\s@]+(@[^\s@]+)?$/, 'expected a principal such as "postgres/db.corp.example.com"')),
      ),
      listen: v.optional(
        v.pipe(
          v.string("expected 127.0.0.1:PORT"),
          v.regex(
            LOOPBACK_LISTEN,
            'expected a loopback address and port, e.g. "127.0.0.1:15432" (only loopback: there the kernel names the connecting process)',
          ),
        ),
      ),
      allow_rsa_public_key: v.optional(v.boolean("expected true or false")),
    },
    (issue) =>
      issue.expected === "never"
        ? "unknown key (credential, protocol, server, tls, ca_file, user, database, databases, gssenc, service_principal, listen, allow_rsa_public_key)"
        : "missing; this key is required",
  ),
);

/** The parsed databases, checked against the credentials defined; `resolvePath` makes ca_file absolute. */
export function toDatabases(
  input: v.InferOutput<typeof databasesSchema> | undefined,
  credentialNames: string[],
  file: string,
  resolvePath: (value: string) => string,
): DatabaseConfig[] {
  const parsed = parseEach(input, credentialNames, file, resolvePath);
  const seen = new Map<string, string>();
  for (const db of parsed) {
    if (!db.listen) continue;
    const at = `${db.listen.host}:${db.listen.port}`;
    const other = seen.get(at);
    if (other)
      throw new CredagentError(
        "config_invalid",
        `${file}: databases.${db.name}.listen: ${at} is databases.${other}'s too; give each its own port`,
      );
    seen.set(at, db.name);
  }
  return parsed;
}

function parseEach(
  input: v.InferOutput<typeof databasesSchema> | undefined,
  credentialNames: string[],
  file: string,
  resolvePath: (value: string) => string,
): DatabaseConfig[] {
  return Object.entries(input ?? {}).map(([name, d]) => {
    const where = `${file}: databases.${name}`;
    if (!credentialNames.includes(d.credential)) {
      throw new CredagentError(
        "config_invalid",
        `${where}.credential: no credential '${d.credential}'; define [credentials.${d.credential}] or name one of: ${credentialNames.join(", ") || "(none defined)"}`,
      );
    }
    const [, rawHost, rawPort] = SERVER.exec(d.server)!;
    const port = Number(rawPort);
    if (port < 1 || port > 65535) throw new CredagentError("config_invalid", `${where}.server: port ${port} is out of range (1 to 65535)`);
    const tls = d.tls ?? "verify-full";
    if (d.ca_file && (tls === "disable" || tls === "require")) {
      throw new CredagentError(
        "config_invalid",
        `${where}.ca_file: only used with tls = "verify-ca" or "verify-full"; remove it or change tls`,
      );
    }
    if (d.allow_rsa_public_key !== undefined && d.protocol !== "mysql") {
      throw new CredagentError(
        "config_invalid",
        `${where}.allow_rsa_public_key: only for protocol = "mysql" (caching_sha2_password without TLS); remove it`,
      );
    }
    if (d.database !== undefined && d.databases !== undefined) {
      throw new CredagentError("config_invalid", `${where}: set database or databases, not both`);
    }
    const databases = d.databases ?? [d.database ?? name];
    if (databases.includes("*") && databases.length > 1) {
      throw new CredagentError("config_invalid", `${where}.databases: "*" (any database) stands alone; remove the other names or the "*"`);
    }
    for (const key of ["gssenc", "service_principal"] as const) {
      if (d[key] !== undefined && d.protocol !== "postgresql") {
        throw new CredagentError("config_invalid", `${where}.${key}: only PostgreSQL logs in with Kerberos; remove it`);
      }
    }
    let listen: DatabaseConfig["listen"];
    if (d.listen) {
      const [, host, rawListenPort] = LOOPBACK_LISTEN.exec(d.listen)!;
      const listenPort = Number(rawListenPort);
      if (host!.split(".").some((o) => Number(o) > 255))
        throw new CredagentError("config_invalid", `${where}.listen: ${host} is not an IPv4 address`);
      if (listenPort < 1 || listenPort > 65535)
        throw new CredagentError("config_invalid", `${where}.listen: port ${listenPort} is out of range (1 to 65535)`);
      listen = { host: host!, port: listenPort };
    }
    return {
      name,
      credential: d.credential,
      databases,
      ...(d.allow_rsa_public_key ? { allowRsaPublicKey: true } : {}),
      protocol: d.protocol,
      host: rawHost!.replace(/^\[|\]$/g, ""),
      port,
      tls,
      ...(d.ca_file ? { caFile: resolvePath(d.ca_file) } : {}),
      ...(d.user ? { user: d.user } : {}),
      ...(d.gssenc ? { gssenc: d.gssenc } : {}),
      ...(d.service_principal ? { servicePrincipal: d.service_principal } : {}),
      ...(listen ? { listen } : {}),
    };
  });
}

/** The directory of a database's socket: what PGHOST (or libpq's host=) names. */
export function databaseSocketDir(p: PathEnv, name: string): string {
  const runtime = p.env.XDG_RUNTIME_DIR || dirname(defaultSocketPath(p));
  return join(runtime, "credagent", "db", name);
}

/**
 * The socket's name in that directory. PostgreSQL: libpq's name for port 5432, so that a client
 * needs only host = the directory.
 */
export function socketName(protocol: DatabaseProtocol): string {
  switch (protocol) {
    case "postgresql":
      return ".s.PGSQL.5432";
    case "mysql":
      // MySQL clients take the socket's whole path (mysql -S, socketPath, unix_socket).
      return "mysql.sock";
    case "redis":
      return "redis.sock";
  }
}

/** Where a database's socket is. */
export function databaseSocketPath(p: PathEnv, db: Pick<DatabaseConfig, "name" | "protocol">): string {
  return join(databaseSocketDir(p, db.name), socketName(db.protocol));
}
