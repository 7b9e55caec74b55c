import { EXIT } from "../../exit-codes.ts";
import { CREDENTIAL_NAME } from "../../wire/types.ts";
import { defineCommand } from "../command.ts";
import { UsageError } from "../io.ts";
import { readStdinValue } from "../prompt.ts";
import { loadConfig } from "../../config/load.ts";
import { gitCredentialFor } from "../helper-match.ts";
import { configPath } from "../../paths.ts";
import { credentialParts } from "../credential-parts.ts";
import type { CliContext } from "../io.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent git-credential [--credential NAME] get|store|erase

A git credential helper: git runs it with the request's attributes on stdin, and for 'get' it
answers with the credential's user name and current token as the password (and the token's
expiry as password_expiry_utc). 'store' and 'erase' are accepted and do nothing: the agent is the
source of truth. Configure it for one host:

  git config --global credential.https://git.example.com.helper '!credagent git-credential --credential NAME'

or for every host, with the hosts mapped to credentials in the config's [git] table
("https://git.example.com" = "NAME"; the longest matching URL prefix wins; a host that is not
there gets no answer, so git asks its next helper):

  git config --global credential.helper '!credagent git-credential'

The user name is the credential's (its 'username' key), else the one git asks with (from the
URL), else x-access-token (what GitHub, Gitea and Forgejo accept with a token; set 'username' for
hosts that want another).

  --credential NAME  the credential to answer with (instead of the [git] table)`;

/** git's credential protocol: key=value lines; a blank line or the end of input ends the request. */
export function parseGitAttributes(text: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") break;
    const eq = line.indexOf("=");
    if (eq > 0) attributes.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return attributes;
}

/** The [git] table of the config file the CLI finds ($CREDAGENT_CONFIG or the default). */
function gitTable(ctx: CliContext): Record<string, string> {
  const { path, explicit } = configPath(ctx.pathEnv);
  return loadConfig(path, explicit).git;
}

export const gitCredential = defineCommand(
  "git-credential",
  usage,
  {
    credential: { type: "string" },
  },
  async ({ values, positionals }, ctx) => {
    if (positionals.length !== 1) throw new UsageError("expected one operation: get, store or erase");
    const operation = positionals[0]!;
    if (!["get", "store", "erase"].includes(operation))
      throw new UsageError(`unknown operation '${operation}': git sends get, store or erase`);
    if (values.credential !== undefined && !CREDENTIAL_NAME.test(values.credential))
      throw new UsageError(`'${values.credential}' is not a credential name`);
    const request = parseGitAttributes(await readStdinValue());
    // store and erase: git tells helpers what worked or failed; the agent's credential stays as it is.
    if (operation !== "get") return EXIT.ok;
    const name =
      values.credential ??
      gitCredentialFor(gitTable(ctx), { protocol: request.get("protocol"), host: request.get("host"), path: request.get("path") });
    if (name === undefined) return EXIT.ok;
    const answer = await agentOf(ctx).token(name);
    const parts = credentialParts(answer);
    const username = parts.username ?? request.get("username") ?? "x-access-token";
    for (const [key, value] of [
      ["username", username],
      ["password", parts.password],
    ] as const) {
      // A line break would end the attribute and start another: never sent.
      if (/[\n\0]/.test(value)) throw new UsageError(`the credential's ${key} holds a line break, which git's protocol cannot carry`);
    }
    const expiry = Math.floor(Date.parse(answer.expires_at) / 1000);
    ctx.out(`username=${username}\npassword=${parts.password}\n${Number.isFinite(expiry) ? `password_expiry_utc=${expiry}\n` : ""}`);
    return EXIT.ok;
  },
);
