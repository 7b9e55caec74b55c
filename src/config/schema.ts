import * as v from "valibot";
import { parseDuration } from "../duration.ts";
import { CREDENTIAL_NAME } from "../wire/types.ts";

// The config file's shape. Unknown keys are errors: a typo must not silently do nothing.

const UNKNOWN_KEY = "unknown key; check its spelling against the config reference in the README";

const duration = v.pipe(
  v.union([v.string(), v.number()], 'expected a duration such as "90s", "5m" or "1h"'),
  v.transform((x) => (typeof x === "number" ? x * 1000 : parseDuration(x))),
  v.number('expected a duration such as "90s", "5m" or "1h"'),
  v.minValue(1, "the duration must be positive"),
);

const allowRule = v.pipe(
  v.strictObject(
    {
      exe: v.optional(v.pipe(v.string(), v.startsWith("/", "expected an absolute path"))),
      sha256: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-fA-F]{64}$/, "expected 64 hex digits"))),
      uid: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
    },
    UNKNOWN_KEY,
  ),
  v.check((r) => r.exe !== undefined || r.sha256 !== undefined || r.uid !== undefined, "a rule needs exe, sha256 or uid"),
);

/** Keys every credential takes, whatever its source. */
const commonEntries = {
  refresh_before: v.optional(duration),
  lifetime: v.optional(duration),
  timeout: v.optional(duration),
  prefetch: v.optional(v.boolean("expected true or false")),
  allow: v.optional(v.array(allowRule, "expected a list of rules, e.g. [ { exe = \"/usr/bin/psql\" } ]")),
  confirm: v.optional(v.boolean("expected true or false")),
};

const commandCredential = v.strictObject(
  {
    source: v.literal("command"),
    command: v.pipe(
      v.array(v.pipe(v.string("each argument must be a string"), v.minLength(1, "arguments must not be empty"))),
      v.minLength(1, "expected the program and its arguments, e.g. [\"az\", \"account\", \"get-access-token\"]"),
    ),
    ...commonEntries,
  },
  UNKNOWN_KEY,
);

const staticCredential = v.strictObject(
  {
    source: v.literal("static"),
    ...commonEntries,
  },
  UNKNOWN_KEY,
);

const url = v.pipe(v.string(), v.url("expected a URL such as https://login.example.com/tenant"));

const oauth2Credential = v.pipe(
  v.strictObject(
    {
      source: v.literal("oauth2"),
      grant: v.picklist(["client_credentials", "device_code"], 'expected "client_credentials" or "device_code"'),
      provider: v.optional(v.picklist(["entra"], 'the only preset is "entra"')),
      tenant: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9.-]{1,128}$/, "expected a tenant id or domain"))),
      issuer: v.optional(url),
      token_endpoint: v.optional(url),
      device_authorization_endpoint: v.optional(url),
      client_id: v.pipe(v.string("expected the client id the provider issued"), v.minLength(1, "must not be empty")),
      client_auth: v.optional(
        v.picklist(["client_secret_basic", "client_secret_post", "private_key_jwt", "none"], 'expected "client_secret_basic", "client_secret_post", "private_key_jwt" or "none"'),
      ),
      scope: v.optional(v.string()),
      resource: v.optional(url),
      audience: v.optional(v.string()),
      key_id: v.optional(v.string()),
      http_timeout: v.optional(duration),
      ...commonEntries,
    },
    UNKNOWN_KEY,
  ),
  v.check(
    (c) => c.provider !== "entra" || c.tenant !== undefined,
    'provider = "entra" needs tenant = "<tenant id or domain>"',
  ),
  v.check(
    (c) => c.provider === "entra" || c.issuer !== undefined || c.token_endpoint !== undefined,
    'expected issuer (for discovery), token_endpoint, or provider = "entra" with a tenant',
  ),
);

export const credentialSchema = v.variant(
  "source",
  [commandCredential, staticCredential, oauth2Credential],
  (issue) => `unknown source ${issue.received}; the sources are: "command", "static", "oauth2"`,
);

export const configSchema = v.strictObject(
  {
    keyring: v.optional(v.picklist(["auto", "os", "file"], 'expected "auto", "os" or "file"')),
    file_passphrase_file: v.optional(v.pipe(v.string(), v.minLength(1, "expected a path"))),
    agent: v.optional(
      v.strictObject({
        request_wait: v.optional(duration),
        deny_root: v.optional(v.boolean("expected true or false")),
        confirm_timeout: v.optional(duration),
        require_session_token: v.optional(v.boolean("expected true or false")),
      }, UNKNOWN_KEY),
    ),
    credentials: v.optional(
      v.record(
        v.pipe(
          v.string(),
          v.regex(CREDENTIAL_NAME, "a credential name may only use letters, digits, '.', '_' and '-' (1 to 128 of them)"),
        ),
        credentialSchema,
      ),
    ),
  },
  UNKNOWN_KEY,
);

export type CredentialConfigInput = v.InferOutput<typeof credentialSchema>;
export type ConfigInput = v.InferOutput<typeof configSchema>;
