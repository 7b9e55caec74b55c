import { toDatabases, type DatabaseConfig } from "./databases.ts";
import { toFiles, type FileConfig } from "./files.ts";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { AllowRule } from "../policy/rules.ts";
import { entraEndpoints, type OAuthOptions } from "../sources/oauth/options.ts";
import type { KeyringChoice } from "../wire/types.ts";
import { parse as parseToml, TomlError } from "smol-toml";
import * as v from "valibot";
import { checkTemplate, formatOf, placeholdersOf, type TemplateFormat } from "../connections/template.ts";
import { CredagentError } from "../errors.ts";
import { configSchema } from "./schema.ts";

/** Who may fetch a credential: see src/policy/rules.ts. */
interface AccessConfig {
  /** A fixed user name served with the secret (overrides one the source gives). */
  username?: string;
  allow?: AllowRule[];
  /** Each new (executable, credential) pair is confirmed by the user once. */
  confirm: boolean;
  /** The Azure resource its tokens are for (the SDK endpoint's key; oauth2 also sends it to the provider). */
  resource?: string;
  /** AWS keys are renewed at the latest this long before expiry, and not served inside it. */
  awsRefreshWindowMs: number;
}

export interface CommandCredentialConfig extends AccessConfig {
  name: string;
  source: "command";
  command: string[];
  refreshBeforeMs?: number;
  lifetimeMs: number;
  timeoutMs: number;
  prefetch: boolean;
}

/** `source = "static"`: the value is the secret stored under the credential's name. */
export interface StaticCredentialConfig extends AccessConfig {
  name: string;
  source: "static";
  refreshBeforeMs?: number;
  /** How long the value is served before the store is read again (picks up `secret set`). */
  lifetimeMs: number;
  timeoutMs: number;
  prefetch: boolean;
}

/** `source = "oauth2"`: tokens from an identity provider. */
export interface OAuthCredentialConfig extends Omit<OAuthOptions, "name" | "defaultLifetimeMs">, AccessConfig {
  name: string;
  source: "oauth2";
  refreshBeforeMs?: number;
  lifetimeMs: number;
  timeoutMs: number;
  prefetch: boolean;
}

/** `source = "kerberos"`: a TGT for principal, from the password stored under the credential's name or from keytab. */
export interface KerberosCredentialConfig extends AccessConfig {
  name: string;
  source: "kerberos";
  principal: string;
  /** An absolute path (a relative one in the file is relative to the config file). */
  keytab?: string;
  realm?: string;
  kdc?: string[];
  /** Asked of the KDC; absent: krb5.conf's ticket_lifetime and renew_lifetime. */
  ticketLifetimeMs?: number;
  renewLifetimeMs?: number;
  refreshBeforeMs?: number;
  lifetimeMs: number;
  timeoutMs: number;
  prefetch: boolean;
}

export type CredentialConfig = CommandCredentialConfig | StaticCredentialConfig | OAuthCredentialConfig | KerberosCredentialConfig;

export interface ConnectionConfig {
  name: string;
  credential: string;
  template?: { text: string; format: TemplateFormat };
  /** One pgpass line; the user name is the credential's. */
  pgpass?: { host: string; port: string; database: string };
}

export interface AgentConfig {
  /** The file read, or null when none exists at the default path. */
  path: string | null;
  requestWaitMs: number;
  keyring: KeyringChoice;
  filePassphraseFile?: string;
  /** Refuse root too (ssh-agent lets root in: it can read the agent's memory anyway). */
  denyRoot: boolean;
  /** Require the session token on the Unix socket too (always required on pipes). */
  requireSessionToken: boolean;
  /** How long a `confirm = true` prompt waits for an answer. */
  confirmTimeoutMs: number;
  credentials: CredentialConfig[];
  /** `[connections.NAME]`: connection strings and pgpass entries filled from credentials. */
  connections: ConnectionConfig[];
  /** `[git]`: URL prefix → the credential `credagent git-credential` answers with. */
  git: Record<string, string>;
  /** `[docker]`: registry → the credential docker-credential-credagent answers with. */
  docker: Record<string, string>;
  /** `[databases.NAME]`: local sockets the agent authenticates to database servers (src/dbproxy). */
  databases: DatabaseConfig[];
  /** The cloud SDKs' loopback token endpoints; absent: off. */
  endpoints?: EndpointsConfig;
  /** `[files.NAME]`: files the agent keeps fresh from templates (src/files). */
  files: FileConfig[];
}

export interface EndpointsConfig {
  azure: boolean;
  aws?: string;
  gcp?: string;
  /** 0: an ephemeral port. */
  port: number;
  gcpProject?: string;
  gcpEmail?: string;
  /** What project/numeric-project-id answers (gcloud needs it). */
  gcpProjectNumber?: string;
  /** The oauth2 credential whose provider gives the metadata server's ID tokens: gcp_id_token, else gcp when it is oauth2. */
  gcpIdToken?: string;
}

export const DEFAULTS = {
  // A bare token that says nothing of its expiry is trusted for this long: short, so a wrong
  // guess costs one more command run, never an expired token served for an hour.
  lifetimeMs: 5 * 60_000,
  timeoutMs: 30_000,
  requestWaitMs: 30_000,
  httpTimeoutMs: 10_000,
  confirmTimeoutMs: 60_000,
  // botocore's advisory refresh window, the widest of the AWS SDKs' (the JS SDK's is 5 minutes).
  awsRefreshWindowMs: 15 * 60_000,
} as const;

/**
 * Reads and checks the config. `required` is false only for the default path, where no file
 * means no credentials yet; a file named by --config or CREDAGENT_CONFIG must exist.
 */
export function loadConfig(path: string, required: boolean): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !required) {
      return {
        path: null,
        requestWaitMs: DEFAULTS.requestWaitMs,
        keyring: "auto",
        denyRoot: false,
        requireSessionToken: false,
        confirmTimeoutMs: DEFAULTS.confirmTimeoutMs,
        credentials: [],
        connections: [],
        git: {},
        docker: {},
        databases: [],
        files: [],
      };
    }
    throw new CredagentError("config_invalid", `cannot read the config file ${path}: ${code ?? String(err)}`, { cause: err });
  }
  return parseConfig(text, path);
}

export function parseConfig(text: string, path: string): AgentConfig {
  let doc: unknown;
  try {
    // smol-toml, not Bun.TOML: Bun's parse errors say what is wrong but not where.
    doc = parseToml(text);
  } catch (err) {
    if (!(err instanceof TomlError))
      throw new CredagentError("config_invalid", `${path}: not valid TOML: ${(err as Error).message}`, { cause: err });
    // Its message is "Invalid TOML document: WHAT" followed by the lines around the error.
    const what = err.message.replace(/^Invalid TOML document: /, "").trimEnd();
    throw new CredagentError("config_invalid", `${path}: not valid TOML at line ${err.line}, column ${err.column}: ${what}`, {
      cause: err,
    });
  }
  const result = v.safeParse(configSchema, doc);
  if (!result.success) {
    const lines = result.issues.map((issue) => `  ${v.getDotPath(issue) ?? "(top level)"}: ${issue.message}`);
    throw new CredagentError("config_invalid", `${path} is invalid:\n${lines.join("\n")}`);
  }
  const input = result.output;
  for (const key of ["aws", "gcp", "gcp_id_token"] as const) {
    const name = input.endpoints?.[key];
    if (name !== undefined && !input.credentials?.[name]) {
      throw new CredagentError("config_invalid", `${path} is invalid:\n  endpoints.${key}: no credential named '${name}' is configured`);
    }
  }
  const credentials: CredentialConfig[] = Object.entries(input.credentials ?? {}).map(([name, c]): CredentialConfig => {
    if (c.source === "kerberos") {
      return {
        name,
        source: c.source,
        principal: c.principal,
        ...(c.keytab === undefined ? {} : { keytab: configRelative(path, c.keytab) }),
        realm: c.realm,
        kdc: c.kdc === undefined ? undefined : typeof c.kdc === "string" ? [c.kdc] : c.kdc,
        ticketLifetimeMs: c.ticket_lifetime,
        renewLifetimeMs: c.renew_lifetime,
        refreshBeforeMs: c.refresh_before,
        lifetimeMs: DEFAULTS.lifetimeMs,
        timeoutMs: c.timeout ?? DEFAULTS.timeoutMs,
        awsRefreshWindowMs: 0,
        // A ticket cache is read by programs that never ask the agent: always kept fresh.
        prefetch: true,
        allow: c.allow,
        confirm: c.confirm ?? false,
      };
    }
    const common = {
      name,
      refreshBeforeMs: c.refresh_before,
      awsRefreshWindowMs: c.aws_refresh_window ?? DEFAULTS.awsRefreshWindowMs,
      lifetimeMs: c.lifetime ?? DEFAULTS.lifetimeMs,
      timeoutMs: c.timeout ?? DEFAULTS.timeoutMs,
      prefetch: c.prefetch ?? false,
      allow: c.allow,
      confirm: c.confirm ?? false,
      username: c.username,
      resource: c.resource,
    };
    if (c.source === "command") return { ...common, source: c.source, command: c.command };
    if (c.source === "static") return { ...common, source: c.source };
    const preset = c.provider === "entra" ? entraEndpoints(c.tenant!) : {};
    return {
      ...common,
      source: c.source,
      grant: c.grant,
      issuer: c.issuer ?? preset.issuer,
      tokenEndpoint: c.token_endpoint ?? preset.tokenEndpoint,
      deviceAuthorizationEndpoint: c.device_authorization_endpoint ?? preset.deviceAuthorizationEndpoint,
      clientId: c.client_id,
      clientAuth: c.client_auth ?? (c.grant === "device_code" ? "none" : "client_secret_basic"),
      scope: c.scope,
      resource: c.resource,
      audience: c.audience,
      keyId: c.key_id,
      httpTimeoutMs: c.http_timeout ?? DEFAULTS.httpTimeoutMs,
    };
  });
  const names = new Set(credentials.map((c) => c.name));
  const unknown: string[] = (["git", "docker"] as const).flatMap((table) =>
    Object.entries(input[table] ?? {})
      .filter(([, name]) => !names.has(name))
      .map(([key, name]) => `  ${table}.${JSON.stringify(key)}: names the credential '${name}', which is not configured`),
  );
  const idTokens = input.endpoints?.gcp_id_token;
  if (idTokens !== undefined && credentials.find((c) => c.name === idTokens)?.source !== "oauth2") {
    unknown.push(
      `  endpoints.gcp_id_token: names '${idTokens}', which is not an oauth2 credential: ID tokens come from an identity provider (an OIDC id_token, or RFC 8693 token exchange)`,
    );
  }
  const connections: ConnectionConfig[] = [];
  for (const [name, c] of Object.entries(input.connections ?? {})) {
    const at = `  connections.${name}`;
    const credential = credentials.find((x) => x.name === c.credential);
    if (!credential) {
      unknown.push(`${at}.credential: names the credential '${c.credential}', which is not configured`);
      continue;
    }
    const connection: ConnectionConfig = { name, credential: c.credential };
    if (c.template !== undefined) {
      try {
        connection.template = { text: c.template, format: c.format ?? formatOf(c.template) };
        checkTemplate(connection.template.text, connection.template.format);
      } catch (err) {
        unknown.push(`${at}.template: ${(err as Error).message}`);
        continue;
      }
      const lacking = placeholdersOf(c.template).filter((p) => !partsOf(credential).includes(p));
      if (lacking.length > 0) {
        unknown.push(
          `${at}.template: uses ${lacking.map((p) => `{${p}}`).join(", ")}, which the credential '${credential.name}' does not have (it has ${partsOf(
            credential,
          )
            .map((p) => `{${p}}`)
            .join(", ")}${credential.username === undefined && lacking.includes("username") ? `; set username = "…" on it` : ""})`,
        );
      }
    }
    if (c.pgpass !== undefined) {
      if (!partsOf(credential).includes("username"))
        unknown.push(`${at}.pgpass: a pgpass line needs a user name: set username = "…" on the credential '${credential.name}'`);
      connection.pgpass = { host: c.pgpass.host, port: String(c.pgpass.port ?? 5432), database: c.pgpass.database ?? "*" };
    }
    connections.push(connection);
  }
  const files = toFiles(
    input.files,
    {
      credentials: new Map(credentials.map((c) => [c.name, partsOf(c)])),
      connections: new Set(connections.map((c) => c.name)),
      templated: new Set(connections.filter((c) => c.template).map((c) => c.name)),
      credentialOf: new Map(connections.map((c) => [c.name, c.credential])),
      guarded: new Set(credentials.filter((c) => c.allow !== undefined || c.confirm).map((c) => c.name)),
    },
    (value) => configRelative(path, value),
    text,
  );
  unknown.push(...files.problems);
  if (files.files.some((f) => f.name === "pgpass") && connections.some((c) => c.pgpass))
    unknown.push("  files.pgpass: the name 'pgpass' is the file of the connections' pgpass entries; choose another name");
  if (unknown.length > 0) throw new CredagentError("config_invalid", `${path} is invalid:\n${unknown.join("\n")}`);
  return {
    files: files.files,
    path,
    connections,
    git: input.git ?? {},
    docker: input.docker ?? {},
    requestWaitMs: input.agent?.request_wait ?? DEFAULTS.requestWaitMs,
    keyring: input.keyring ?? "auto",
    denyRoot: input.agent?.deny_root ?? false,
    requireSessionToken: input.agent?.require_session_token ?? false,
    confirmTimeoutMs: input.agent?.confirm_timeout ?? DEFAULTS.confirmTimeoutMs,
    filePassphraseFile: input.file_passphrase_file === undefined ? undefined : configRelative(path, input.file_passphrase_file),
    credentials,
    databases: toDatabases(
      input.databases,
      credentials.map((c) => c.name),
      path,
      (value) => configRelative(path, value),
    ),
    endpoints: input.endpoints && {
      azure: input.endpoints.azure ?? false,
      aws: input.endpoints.aws,
      gcp: input.endpoints.gcp,
      port: input.endpoints.port ?? 0,
      gcpProject: input.endpoints.gcp_project,
      gcpEmail: input.endpoints.gcp_email,
      gcpProjectNumber: input.endpoints.gcp_project_number,
      gcpIdToken: idTokenCredential(input.endpoints, credentials),
    },
  };
}

/**
 * The parts a credential's answers can have, as far as the config tells: an oauth2 or static
 * credential gives a token (the password of a database that takes tokens); a command may print any
 * kind, so only what it lacks for certain (a user name, when the config fixes none and it may print
 * one) is left to the moment it answers.
 */
function partsOf(credential: CredentialConfig): string[] {
  if (credential.source === "kerberos") return ["token", "username"];
  const secret = ["password", "token"];
  if (credential.source === "command") return [...secret, "username", "access_key_id", "secret_access_key", "session_token"];
  return credential.username === undefined ? secret : [...secret, "username"];
}

/** The credential the metadata server's ID tokens come from: one that can get them (oauth2) or none. */
function idTokenCredential(endpoints: { gcp?: string; gcp_id_token?: string }, credentials: CredentialConfig[]): string | undefined {
  const named = endpoints.gcp_id_token ?? endpoints.gcp;
  const credential = credentials.find((c) => c.name === named);
  return credential?.source === "oauth2" ? credential.name : undefined;
}

/** A path in the config: "~/" is the home directory, a relative path is relative to the config file. */
function configRelative(configFile: string, value: string): string {
  if (value.startsWith("~/")) return join((require("node:os") as typeof import("node:os")).homedir(), value.slice(2));
  return resolve(dirname(configFile), value);
}
