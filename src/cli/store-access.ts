import { configPath } from "../paths.ts";
import { fileStoreDir } from "../paths.ts";
import { loadConfig, type AgentConfig } from "../config/load.ts";
import { Secret } from "../secret.ts";
import { openStore, readPassphraseFile } from "../store/open.ts";
import { KEYRING_USAGE, parseKeyringChoice } from "../wire/types.ts";
import type { KeyringChoice } from "../wire/types.ts";
import type { SecretStore } from "../store/store.ts";
import type { CliContext } from "./io.ts";
import { UsageError } from "./io.ts";
import { promptHidden } from "./prompt.ts";

/** The config and the store as the agent would open them, for commands that work without an agent. */
export async function openCliStore(
  ctx: CliContext,
  flags: { config?: string; keyring?: string },
): Promise<{ config: AgentConfig; store: SecretStore }> {
  const keyring = flags.keyring === undefined ? undefined : parseKeyringChoice(flags.keyring);
  if (keyring === null) throw new UsageError(KEYRING_USAGE);
  const location = configPath(ctx.pathEnv, flags.config);
  const config = loadConfig(location.path, location.explicit);
  const store = await openStore({
    choice: keyring ?? config.keyring,
    fileDir: fileStoreDir(ctx.pathEnv),
    passphrase: async () => {
      const fromEnv = ctx.env.CREDAGENT_FILE_PASSPHRASE;
      if (fromEnv) return new Secret(fromEnv);
      if (config.filePassphraseFile) return readPassphraseFile(config.filePassphraseFile);
      if (!process.stdin.isTTY) return null;
      return new Secret(await promptHidden("Passphrase of the encrypted file store: ", ctx.err));
    },
    onNotice: (message) => ctx.err(`credagent: ${message}\n`),
    noticeOnlyOnCreate: true,
  });
  return { config, store };
}
