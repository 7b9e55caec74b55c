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

const commandCredential = v.strictObject(
  {
    source: v.literal("command"),
    command: v.pipe(
      v.array(v.pipe(v.string("each argument must be a string"), v.minLength(1, "arguments must not be empty"))),
      v.minLength(1, "expected the program and its arguments, e.g. [\"az\", \"account\", \"get-access-token\"]"),
    ),
    refresh_before: v.optional(duration),
    lifetime: v.optional(duration),
    timeout: v.optional(duration),
    prefetch: v.optional(v.boolean("expected true or false")),
  },
  UNKNOWN_KEY,
);

const staticCredential = v.strictObject(
  {
    source: v.literal("static"),
    refresh_before: v.optional(duration),
    lifetime: v.optional(duration),
    timeout: v.optional(duration),
    prefetch: v.optional(v.boolean("expected true or false")),
  },
  UNKNOWN_KEY,
);

export const credentialSchema = v.variant(
  "source",
  [commandCredential, staticCredential],
  (issue) => `unknown source ${issue.received}; the sources are: "command", "static"`,
);

export const configSchema = v.strictObject(
  {
    keyring: v.optional(v.picklist(["auto", "os", "file"], 'expected "auto", "os" or "file"')),
    file_passphrase_file: v.optional(v.pipe(v.string(), v.minLength(1, "expected a path"))),
    agent: v.optional(
      v.strictObject({
        request_wait: v.optional(duration),
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
