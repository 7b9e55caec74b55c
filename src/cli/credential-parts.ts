import type { TokenResponse } from "../wire/types.ts";

/**
 * What the helper protocols (git, docker) hand out: a user name when the credential has one, and
 * the secret a program sends as its password (a password credential's password, else the token).
 */
export function credentialParts(answer: TokenResponse): { username: string | undefined; password: string } {
  const extra = answer as TokenResponse & { username?: unknown; password?: unknown };
  return {
    username: typeof extra.username === "string" && extra.username !== "" ? extra.username : undefined,
    password: typeof extra.password === "string" ? extra.password : answer.token,
  };
}
