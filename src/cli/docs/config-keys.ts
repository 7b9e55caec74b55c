import type * as v from "valibot";

// Every key of the config file, found by walking the schema itself (src/config/schema.ts), and a
// line about each for credagent.toml(5). A unit test checks both ways that every key has its line
// and every line a key, so the page cannot drift from what the agent accepts.

export const KEY_DOCS: Record<string, string> = {
  keyring: '"auto" (the OS keyring, else the encrypted file store), "os" or "file"',
  file_passphrase_file: "a file (0600) whose first line is the encrypted file store's passphrase",
  agent: "settings of the agent itself",
  "agent.request_wait": "how long a request with no valid token waits for its source (default 30s)",
  "agent.deny_root": "true: refuse root's processes too",
  "agent.confirm_timeout": "how long a confirm = true prompt waits for an answer (default 60s)",
  "agent.require_session_token": "true: require the session token on the Unix socket as well as on pipes",
  credentials: "the credentials, one table each: [credentials.NAME]",
  "credentials.NAME.source": '"command", "static", "oauth2" or "kerberos"',
  "credentials.NAME.command": "command: the program and its arguments (no shell), printing a token or JSON",
  "credentials.NAME.refresh_before": "refresh this long before expiry (default: at 70-80% of the lifetime)",
  "credentials.NAME.aws_refresh_window":
    "AWS keys: renewed at the latest this long before they expire, and never served inside it, the AWS SDKs' refresh window (default 15m; 0s: off)",
  "credentials.NAME.lifetime": "the lifetime assumed when the source says nothing of expiry (default 5m)",
  "credentials.NAME.timeout": "how long one fetch may take; the command and all it started are killed after (default 30s)",
  "credentials.NAME.prefetch": "true: fetch at start instead of at first use",
  "credentials.NAME.allow": "rules naming the processes that may have it: a list of { exe, sha256, uid }",
  "credentials.NAME.allow.exe": "a rule: the absolute path of the requesting executable",
  "credentials.NAME.allow.sha256": "a rule: the SHA-256 of the requesting executable",
  "credentials.NAME.allow.uid": "a rule: the requesting process's user id",
  "credentials.NAME.confirm": "true: each new program asking needs the user's yes (desktop prompt or credagent approve)",
  "credentials.NAME.username": "a fixed user name served with the secret (databases, registries, git hosts)",
  "credentials.NAME.resource": "the Azure resource its tokens are for, for the SDK endpoint (and, for oauth2, the RFC 8707 resource)",
  "credentials.NAME.grant": 'oauth2: "client_credentials" or "device_code"',
  "credentials.NAME.provider": 'oauth2: "entra" fills in the endpoints of tenant',
  "credentials.NAME.tenant": 'oauth2 with provider = "entra": the tenant id or domain',
  "credentials.NAME.issuer": "oauth2: the issuer, for discovery (https; http only to loopback)",
  "credentials.NAME.token_endpoint": "oauth2: the token endpoint, instead of discovery",
  "credentials.NAME.device_authorization_endpoint": "oauth2 device_code: the device authorization endpoint",
  "credentials.NAME.client_id": "oauth2: the client id the provider issued",
  "credentials.NAME.client_auth": 'oauth2: "client_secret_basic", "client_secret_post", "private_key_jwt" or "none"',
  "credentials.NAME.scope": "oauth2: the scopes asked for",
  "credentials.NAME.audience": "oauth2: an Auth0-style audience",
  "credentials.NAME.key_id": "oauth2 private_key_jwt: the kid of the assertion",
  "credentials.NAME.http_timeout": "oauth2: each HTTP request to the provider, its whole answer included (default 10s)",
  "credentials.NAME.principal": "kerberos: the principal, user@REALM (the password is the secret stored under the credential's name)",
  "credentials.NAME.keytab": "kerberos: a keytab to get tickets with instead of a password (a service account)",
  "credentials.NAME.realm": "kerberos: the realm, when the principal names none (else krb5.conf's default_realm)",
  "credentials.NAME.kdc": 'kerberos: the realm\'s KDCs, "host" or "host:port" (else krb5.conf or DNS)',
  "credentials.NAME.ticket_lifetime": "kerberos: the ticket lifetime asked for (else krb5.conf's; the KDC may give less)",
  "credentials.NAME.renew_lifetime": "kerberos: how long the ticket may be renewed, asked for (else krb5.conf's)",
  connections: "connection strings with no secret in them: [connections.NAME]",
  "connections.NAME.credential": "the credential that fills it in",
  "connections.NAME.template": "the string, with {username}, {password}, {token} and AWS placeholders",
  "connections.NAME.format": '"url", "libpq", "adonet", "odbc", "jdbc" or "redis" (default: told by the template\'s shape)',
  "connections.NAME.pgpass": "a line in the pgpass file the agent keeps fresh: { host, port, database }",
  "connections.NAME.pgpass.host": "the pgpass line's host (* for any)",
  "connections.NAME.pgpass.port": 'the pgpass line\'s port (default 5432; "*" for any)',
  "connections.NAME.pgpass.database": "the pgpass line's database (default *)",
  files: "files the agent keeps fresh from templates: [files.NAME]",
  "files.NAME.path": "where it is written: in your home (~/.netrc); default: the agent's runtime directory, credagent/files/NAME",
  "files.NAME.template": "its text, with {{ NAME }}, {{ NAME.PART }} and {{ conn.NAME }} references",
  "files.NAME.format": 'how values are escaped: "netrc", "ini", "json", "yaml", "env", "xml", "pgpass" or "raw"',
  "files.NAME.mode": 'its permissions, octal (default "0600")',
  "files.NAME.on_change": "a program (and its arguments, no shell) run after each rewrite",
  "files.NAME.on_change_timeout": "how long on_change may run before its process group is killed (default 30s)",
  "files.NAME.keep": "true: kept on lock and stop, with its secrets blanked, instead of removed",
  "files.NAME.replace": "true: overwrite a file that credagent did not write",
  git: 'URL prefix = credential, for credagent git-credential ("https://git.example.com" = "NAME")',
  docker: 'registry = credential, for docker-credential-credagent ("registry.example.com" = "NAME")',
  databases: "local sockets the agent logs in to database servers through: [databases.NAME]",
  "databases.NAME.credential": "the credential whose password (or token) logs in",
  "databases.NAME.protocol": '"postgresql", "mysql" (MySQL and MariaDB) or "redis"',
  "databases.NAME.server": "the real server, host:port",
  "databases.NAME.tls": '"disable", "require", "verify-ca" or "verify-full" (libpq\'s sslmode meanings; default verify-full)',
  "databases.NAME.ca_file": "the CA certificate for verify-ca and verify-full",
  "databases.NAME.listen":
    '"127.0.0.1:PORT": a loopback TCP listener beside the socket (JDBC, .NET, DBeaver); the peer is identified by the kernel',
  "databases.NAME.user": "the role, in place of the credential's username",
  "databases.NAME.allow_rsa_public_key":
    "mysql: caching_sha2_password without TLS may encrypt the password with the server's RSA key (default false)",
  "databases.NAME.database": "the one database the endpoint serves (default: NAME); a client naming none gets it",
  "databases.NAME.databases": 'the databases the endpoint serves, the first the default; ["*"] for any the role can reach',
  "databases.NAME.gssenc": 'PostgreSQL with a kerberos credential: GSS encryption, "prefer" (default), "require" or "disable"',
  "databases.NAME.service_principal": "PostgreSQL with a kerberos credential: the server's principal (default postgres/HOST)",
  endpoints: "the cloud SDKs' token endpoints on 127.0.0.1, all off by default",
  "endpoints.azure": "true: the Azure managed identity endpoints (App Service 2019 and 2017, Cloud Shell, IMDS)",
  "endpoints.aws": "the aws credential the AWS container endpoint serves",
  "endpoints.gcp": "the credential the Google metadata server serves",
  "endpoints.port": "the port on 127.0.0.1 (default 0: an ephemeral one)",
  "endpoints.gcp_project": "the project id the metadata server reports",
  "endpoints.gcp_email": "the service account email the metadata server reports",
  "endpoints.gcp_project_number": "the project number the metadata server reports (gcloud needs it to use the server)",
  "endpoints.gcp_id_token": "the oauth2 credential whose provider gives the metadata server's ID tokens (default: gcp, when oauth2)",
};

/** Every key the schema takes, tables of names written as NAME (credentials.NAME.source). */
export function schemaKeys(schema: v.GenericSchema): string[] {
  const out = new Set<string>();
  const walk = (s: unknown, prefix: string): void => {
    const node = s as {
      type?: string;
      wrapped?: unknown;
      entries?: Record<string, unknown>;
      value?: unknown;
      options?: unknown[];
      item?: unknown;
      pipe?: unknown[];
    };
    switch (node?.type) {
      case "optional":
      case "nullable":
        return walk(node.wrapped, prefix);
      case "strict_object":
      case "object":
        for (const [key, entry] of Object.entries(node.entries ?? {})) {
          const path = prefix ? `${prefix}.${key}` : key;
          out.add(path);
          walk(entry, path);
        }
        return;
      case "record":
        return walk(node.value, `${prefix}.NAME`);
      case "variant":
      case "union":
        for (const option of node.options ?? []) walk(option, prefix);
        return;
      case "array":
        return walk(node.item, prefix);
    }
    if (Array.isArray(node?.pipe)) walk(node.pipe[0], prefix);
  };
  walk(schema, "");
  return [...out];
}
