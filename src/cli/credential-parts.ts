import { CredagentError } from "../errors.ts";
import type { TokenResponse } from "../wire/types.ts";

/**
 * The secret a program sends (the bearer token, or the password) and the user name that goes with
 * it, for the commands and helper protocols that hand out one secret. An AWS credential has no
 * single secret: those get a clear error naming what to use instead.
 */
export function credentialParts(answer: TokenResponse): { username: string | undefined; password: string } {
  if (answer.token === undefined) {
    throw new CredagentError(
      "bad_request",
      `the credential '${answer.name}' is an AWS key (${answer.kind}), not one secret: use 'credagent aws-credential ${answer.name}' (AWS credential_process) or 'credagent get ${answer.name} --json'`,
    );
  }
  return { username: answer.username || undefined, password: answer.token };
}

export const PARTS = ["token", "password", "username", "access_key_id", "secret_access_key", "session_token"] as const;
export type Part = (typeof PARTS)[number];

/** The part of an answer asked for (none: the token or password); a part the credential does not have is an error. */
export function partOf(answer: TokenResponse, part: Part | undefined): string {
  if (part === undefined) return credentialParts(answer).password;
  const value =
    part === "token" || part === "password" || part === "username"
      ? answer[part]
      : part === "access_key_id"
        ? answer.aws?.access_key_id
        : part === "secret_access_key"
          ? answer.aws?.secret_access_key
          : answer.aws?.session_token;
  if (value === undefined) throw new CredagentError("bad_request", `the credential '${answer.name}' (${answer.kind}) has no ${part}`);
  return value;
}
