import * as v from "valibot";
import { parseDuration } from "../duration.ts";
import { TEMPLATE_FORMATS } from "../connections/template.ts";
import { CREDENTIAL_NAME, KEYRING_CHOICES } from "../wire/types.ts";
import { databasesSchema } from "./databases.ts";
import { filesSchema } from "./files.ts";

// The config file's shape. Unknown keys are errors: a typo must not silently do nothing.

const SOURCES = ["command", "static", "oauth2", "kerberos"] as const;

/**
 * A table whose keys are all known. valibot reports a missing required key through the object's
 * message too, so the message tells the two apart: a `comand` typo then reads as "command:
 * missing" and "comand: unknown key; did you mean command?", not as two unknown keys.
 */
function table<E extends v.ObjectEntries>(entries: E) {
  const known = Object.keys(entries);
  return v.strictObject(entries, (issue) => {
    const key = String(issue.path?.at(-1)?.key ?? "");
    if (issue.expected !== "never") return "missing; this key is required";
    const near = closest(key, known);
    return `unknown key${near ? `; did you mean ${near}?` : ""} (see the config reference in the README)`;
  });
}

/** The known key a typo most likely meant: at most two edits away. */
function closest(key: string, known: string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

const duration = v.pipe(
  v.union([v.string(), v.number()], 'expected a duration such as "90s", "5m" or "1h"'),
  v.transform((x) => (typeof x === "number" ? x * 1000 : parseDuration(x))),
  v.number('expected a duration such as "90s", "5m" or "1h"'),
  v.minValue(1, "the duration must be positive"),
);

/** A duration that may be zero ("0s": off). */
const durationOrZero = v.pipe(
  v.union([v.string(), v.number()], 'expected a duration such as "15m", or "0s" for none'),
  v.transform((x) => (typeof x === "number" ? x * 1000 : parseDuration(x))),
  v.number('expected a duration such as "15m", or "0s" for none'),
  v.minValue(0, "the duration must not be negative"),
);

const allowRule = v.pipe(
  table({
    exe: v.optional(v.pipe(v.string(), v.startsWith("/", "expected an absolute path"))),
    sha256: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex digits"))),
    uid: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  }),
  v.check((r) => r.exe !== undefined || r.sha256 !== undefined || r.uid !== undefined, "a rule needs exe, sha256 or uid"),
);

/** Keys every credential takes, whatever its source. */
const commonEntries = {
  refresh_before: v.optional(duration),
  // AWS keys: renewed at the latest this long before expiry, and never served inside it (src/refresh/policy.ts).
  aws_refresh_window: v.optional(durationOrZero),
  lifetime: v.optional(duration),
  timeout: v.optional(duration),
  prefetch: v.optional(v.boolean("expected true or false")),
  allow: v.optional(v.array(allowRule, 'expected a list of rules, e.g. [ { exe = "/usr/bin/git" } ]')),
  confirm: v.optional(v.boolean("expected true or false")),
  /** A fixed user name that goes with the credential's secret (databases, registries, git hosts). */
  username: v.optional(
    v.pipe(v.string("expected a user name"), v.minLength(1, "must not be empty"), v.regex(/^[^\n\r\0]*$/, "must not hold a line break")),
  ),
  // The Azure resource (audience) this credential's tokens are for: what the SDK endpoint maps to it.
  resource: v.optional(v.pipe(v.string(), v.url("expected a URL such as https://ossrdbms-aad.database.windows.net"))),
};

const commandCredential = table({
  source: v.literal("command"),
  command: v.pipe(
    v.array(v.pipe(v.string("each argument must be a string"), v.minLength(1, "arguments must not be empty"))),
    v.minLength(1, 'expected the program and its arguments, e.g. ["az", "account", "get-access-token"]'),
  ),
  ...commonEntries,
});

const staticCredential = table({
  source: v.literal("static"),
  ...commonEntries,
});

const url = v.pipe(v.string(), v.url("expected a URL such as https://login.example.com/tenant"));

/** A URL credagent sends secrets to: https, or plain http to this machine only (a local test provider). */
const endpoint = v.pipe(
  url,
  v.check(
    (u) => {
      const { protocol, hostname } = new URL(u);
      return protocol === "https:" || (protocol === "http:" && LOOPBACK_HOSTS.has(hostname));
    },
    (issue) => `${issue.input} is not https; secrets go only over https:// (plain http:// only to 127.0.0.1, ::1 or localhost)`,
  ),
);

const oauth2Credential = v.pipe(
  table({
    source: v.literal("oauth2"),
    grant: v.picklist(["client_credentials", "device_code"], 'expected "client_credentials" or "device_code"'),
    provider: v.optional(v.picklist(["entra"], 'the only preset is "entra"')),
    tenant: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9.-]{1,128}$/, "expected a tenant id or domain"))),
    issuer: v.optional(endpoint),
    token_endpoint: v.optional(endpoint),
    device_authorization_endpoint: v.optional(endpoint),
    client_id: v.pipe(v.string("expected the client id the provider issued"), v.minLength(1, "must not be empty")),
    client_auth: v.optional(
      v.picklist(
        ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        'expected "client_secret_basic", "client_secret_post", "private_key_jwt" or "none"',
      ),
    ),
    scope: v.optional(v.string()),
    audience: v.optional(v.string()),
    key_id: v.optional(v.string()),
    http_timeout: v.optional(duration),
    ...commonEntries,
  }),
  v.check((c) => c.provider !== "entra" || c.tenant !== undefined, 'provider = "entra" needs tenant = "<tenant id or domain>"'),
  v.check(
    (c) => c.provider === "entra" || c.issuer !== undefined || c.token_endpoint !== undefined,
    'expected issuer (for discovery), token_endpoint, or provider = "entra" with a tenant',
  ),
);

/** A KDC as krb5.conf names one: host, host:port or [v6]:port. */
const kdcAddress = v.pipe(
  v.string('expected a KDC such as "dc1.corp.example.com" or "dc1.corp.example.com:88"'),
  v.regex(
    /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?$/,
    'expected a KDC such as "dc1.corp.example.com" or "dc1.corp.example.com:88"',
  ),
);

/** `source = "kerberos"`: a TGT kept fresh from the stored password, or a keytab (src/sources/kerberos.ts). */
const kerberosCredential = v.pipe(
  table({
    source: v.literal("kerberos"),
    principal: v.pipe(
      v.string("expected a principal such as alice@CORP.EXAMPLE"),
      v.minLength(1, "must not be empty"),
      v.regex(/^[^\n\r\0]+$/, "must not hold a line break"),
    ),
    keytab: v.optional(v.pipe(v.string(), v.minLength(1, "expected a path"))),
    realm: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9._-]{1,255}$/, "expected a realm such as CORP.EXAMPLE"))),
    kdc: v.optional(
      v.union([kdcAddress, v.pipe(v.array(kdcAddress), v.minLength(1, "expected at least one KDC"))], "expected a KDC or a list of them"),
    ),
    ticket_lifetime: v.optional(duration),
    renew_lifetime: v.optional(duration),
    refresh_before: v.optional(duration),
    timeout: v.optional(duration),
    prefetch: v.optional(v.boolean("expected true or false")),
    allow: commonEntries.allow,
    confirm: commonEntries.confirm,
  }),
  v.check(
    (c) => c.kdc === undefined || c.realm !== undefined || /@[^@]+$/.test(c.principal),
    'kdc needs a realm: write the principal as user@REALM, or set realm = "REALM"',
  ),
);

export const credentialSchema = v.variant(
  "source",
  [commandCredential, staticCredential, oauth2Credential, kerberosCredential],
  (issue) => {
    const sources = SOURCES.map((s) => `"${s}"`).join(", ");
    // On `source` the issue's input is its value; otherwise the credential is not a table at all.
    if (issue.path?.at(-1)?.key !== "source") return `expected a table with a source, e.g. [credentials.NAME] and source = "command"`;
    const value = issue.input;
    return value === undefined
      ? `missing; set source to one of ${sources}`
      : `unknown source ${JSON.stringify(value)}; the sources are ${sources}`;
  },
);

/** A pgpass field: `*` matches anything (libpq's rule). */
const pgpassField = v.pipe(v.string(), v.minLength(1, "must not be empty"), v.regex(/^[^\n\r]*$/, "must not hold a line break"));

/** `[connections.NAME]`: a connection string with no secret in it, filled from a credential on request. */
const connectionSchema = v.pipe(
  table({
    credential: v.pipe(
      v.string("expected the name of the credential that fills it in"),
      v.regex(CREDENTIAL_NAME, "expected a credential name"),
    ),
    template: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
    format: v.optional(v.picklist(TEMPLATE_FORMATS, `expected one of ${TEMPLATE_FORMATS.map((f) => `"${f}"`).join(", ")}`)),
    pgpass: v.optional(
      table({
        host: pgpassField,
        port: v.optional(
          v.union([v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)), v.literal("*")], 'expected a port number or "*"'),
        ),
        database: v.optional(pgpassField),
      }),
    ),
  }),
  v.check((c) => c.template !== undefined || c.pgpass !== undefined, "expected a template, a pgpass entry, or both"),
);

/** `[git]` keys: URL prefixes as git's own credential.<url> sections take them. */
const gitPrefix = v.pipe(
  v.string(),
  v.check(
    (u) => {
      try {
        const { protocol } = new URL(u);
        return protocol === "https:" || protocol === "http:";
      } catch {
        return false;
      }
    },
    (issue) =>
      `${JSON.stringify(issue.input)} is not a URL such as "https://git.example.com" (or with a path: "https://git.example.com/team/")`,
  ),
);

/** A helper protocol's table: a key (a git URL prefix, a registry) → the credential that answers it. */
function helperMap<K extends v.GenericSchema<string, string>>(what: string, key: K) {
  return v.record(
    key,
    v.pipe(v.string(`expected the name of the credential that answers ${what}`), v.regex(CREDENTIAL_NAME, "expected a credential name")),
  );
}
/** `[endpoints]`: the cloud SDKs' local token endpoints on 127.0.0.1 (src/endpoints/); all off by default. */
const credentialRef = v.pipe(v.string("expected the name of a credential"), v.regex(CREDENTIAL_NAME, "expected the name of a credential"));
const endpointsSchema = table({
  azure: v.optional(v.boolean("expected true or false")),
  aws: v.optional(credentialRef),
  gcp: v.optional(credentialRef),
  port: v.optional(v.pipe(v.number("expected a port number"), v.integer(), v.minValue(0), v.maxValue(65535))),
  gcp_project: v.optional(v.pipe(v.string(), v.regex(/^[a-z][a-z0-9-]{0,62}$/, "expected a project id such as my-project"))),
  gcp_email: v.optional(v.pipe(v.string(), v.email("expected a service account's email"))),
  // gcloud takes the metadata server for real only when project/numeric-project-id answers digits.
  gcp_project_number: v.optional(
    v.pipe(
      v.union([v.pipe(v.number(), v.integer(), v.minValue(1)), v.string()], "expected the project number, such as 123456789012"),
      v.transform((x) => String(x)),
      v.regex(/^[1-9][0-9]{0,19}$/, "expected the project number, such as 123456789012"),
    ),
  ),
  gcp_id_token: v.optional(credentialRef),
});

export const configSchema = table({
  keyring: v.optional(
    v.picklist(
      KEYRING_CHOICES,
      `expected ${KEYRING_CHOICES.map((k) => `"${k}"`)
        .join(", ")
        .replace(/, ([^,]*)$/, " or $1")}`,
    ),
  ),
  file_passphrase_file: v.optional(v.pipe(v.string(), v.minLength(1, "expected a path"))),
  agent: v.optional(
    table({
      request_wait: v.optional(duration),
      deny_root: v.optional(v.boolean("expected true or false")),
      confirm_timeout: v.optional(duration),
      require_session_token: v.optional(v.boolean("expected true or false")),
    }),
  ),
  connections: v.optional(
    v.record(
      v.pipe(v.string(), v.regex(CREDENTIAL_NAME, "a connection name may only use letters, digits, '.', '_' and '-' (1 to 128 of them)")),
      connectionSchema,
    ),
  ),
  git: v.optional(helperMap("git", gitPrefix)),
  docker: v.optional(helperMap("docker", v.pipe(v.string(), v.minLength(1, "expected a registry such as registry.example.com")))),
  endpoints: v.optional(endpointsSchema),
  credentials: v.optional(
    v.record(
      v.pipe(v.string(), v.regex(CREDENTIAL_NAME, "a credential name may only use letters, digits, '.', '_' and '-' (1 to 128 of them)")),
      credentialSchema,
    ),
  ),
  databases: v.optional(databasesSchema),
  files: v.optional(filesSchema(duration)),
});

export type CredentialConfigInput = v.InferOutput<typeof credentialSchema>;
export type ConfigInput = v.InferOutput<typeof configSchema>;
