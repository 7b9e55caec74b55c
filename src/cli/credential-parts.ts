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
