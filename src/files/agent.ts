import { dirname, join } from "node:path";
import type { AgentConfig } from "../config/load.ts";
import type { ConnectionTable } from "../connections/table.ts";
import type { Logger } from "../log/log.ts";
import { isWindowsPipe, stateDir, type PathEnv } from "../paths.ts";
import type { CredentialRegistry } from "../refresh/registry.ts";
import { FileKeeper } from "./keeper.ts";
import { runOnChange } from "./on-change.ts";
import type { ValueSource } from "./render.ts";
import { keptFiles, type FilePlaces } from "./specs.ts";
import { OwnedFiles } from "./write.ts";

// The kept files as the agent runs them: built from the config, fed the registry's tokens, the
// record of what credagent wrote kept in the state directory. run.ts wires its events in.

export interface KeptFilesDeps {
  registry: Pick<CredentialRegistry, "get">;
  connections: Pick<ConnectionTable, "get" | "render">;
  places: FilePlaces;
  pathEnv: PathEnv;
  env: Record<string, string | undefined>;
  log: Logger;
}

/** Where kept files go: the runtime directory beside the socket (a pipe has none: the state directory), and home. */
export function filePlaces(socketPath: string, pathEnv: PathEnv): FilePlaces {
  const runtimeDir = isWindowsPipe(socketPath) ? stateDir(pathEnv) : join(dirname(socketPath), "credagent");
  return { runtimeDir, home: pathEnv.home };
}

export function createKeptFiles(deps: KeptFilesDeps): { keeper: FileKeeper; apply(config: AgentConfig): void } {
  const { places } = deps;
  const keeper = new FileKeeper({
    owned: new OwnedFiles(join(stateDir(deps.pathEnv), "kept-files.json")),
    values: registryValues(deps),
    log: deps.log,
    now: Date.now,
    runOnChange: (argv, timeoutMs) => runOnChange(argv, timeoutMs, deps.env, Date.now),
  });
  return { keeper, apply: (config) => keeper.apply(keptFiles(config, places)) };
}

/** The values held now (never a fetch: a kept file follows the registry's refreshes). */
export function registryValues(deps: Pick<KeptFilesDeps, "registry" | "connections">): ValueSource {
  return {
    token: (credential) => {
      try {
        return deps.registry.get(credential).current();
      } catch {
        return undefined;
      }
    },
    connection: (name, token) => deps.connections.render(deps.connections.get(name), token),
    credentialOf: (name) => deps.connections.get(name).credential,
  };
}
