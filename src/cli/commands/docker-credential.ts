import { describe } from "../../errors.ts";
import { loadConfig } from "../../config/load.ts";
import { configPath } from "../../paths.ts";
import { VERSION } from "../../version.ts";
import { dockerCredentialFor } from "../helper-match.ts";
import { credentialParts } from "../credential-parts.ts";
import type { CliContext } from "../io.ts";
import { readStdinValue } from "../prompt.ts";
import { agentOf } from "../agent.ts";

// The docker credential-helper protocol (docker/docker-credential-helpers, client/client.go): the
// binary answers when run as `docker-credential-credagent` (a link install.sh makes), with the
// operation as its one argument and the request on stdin. docker reads an error from stdout, with
// exit status 1; for a registry it has nothing for, exactly the text below, which docker treats as
// "no credentials" rather than a failure.

export const DOCKER_HELPER_NAME = "docker-credential-credagent";
const NOT_FOUND = "credentials not found in native keychain";

/** Registry host → credential, from the config file the CLI finds ($CREDAGENT_CONFIG or the default). */
function registries(ctx: CliContext): Record<string, string> {
  const { path, explicit } = configPath(ctx.pathEnv);
  return loadConfig(path, explicit).docker;
}

export async function runDockerHelper(argv: string[], ctx: CliContext): Promise<number> {
  const fail = (message: string) => {
    ctx.out(`${message}\n`);
    return 1;
  };
  const operation = argv[0];
  try {
    switch (operation) {
      case "version":
        ctx.out(`${DOCKER_HELPER_NAME} (credagent) ${VERSION}\n`);
        return 0;
      case "store":
      case "erase":
        // docker login/logout report what they did; the agent's credentials stay as they are.
        await readStdinValue();
        return 0;
      case "list": {
        const names = registries(ctx);
        const client = agentOf(ctx);
        const listing: Record<string, string> = {};
        for (const [registry, name] of Object.entries(names)) {
          const parts = credentialParts(await client.token(name));
          if (parts.username) listing[registry] = parts.username;
        }
        ctx.out(`${JSON.stringify(listing)}\n`);
        return 0;
      }
      case "get": {
        const serverUrl = (await readStdinValue()).trim();
        if (serverUrl === "") return fail("no server URL on standard input");
        const name = dockerCredentialFor(registries(ctx), serverUrl);
        if (name === undefined) return fail(NOT_FOUND);
        const answer = await agentOf(ctx).token(name);
        const parts = credentialParts(answer);
        if (!parts.username)
          return fail(
            `credagent: the credential '${name}' for ${serverUrl} has no username: set username = "…" in its config (registries want one with the token)`,
          );
        ctx.out(`${JSON.stringify({ ServerURL: serverUrl, Username: parts.username, Secret: parts.password })}\n`);
        return 0;
      }
      default:
        return fail(`usage: ${DOCKER_HELPER_NAME} get|store|erase|list|version (docker runs it; see 'credagent help')`);
    }
  } catch (err) {
    return fail(`credagent: ${describe(err)}`);
  }
}
