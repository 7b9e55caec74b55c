import { configPath } from "../paths.ts";
import { fileStoreDir } from "../paths.ts";
import { loadConfig, type AgentConfig } from "../config/load.ts";
import { Secret } from "../secret.ts";
import { openStore, otherStoreHolding, readPassphraseFile } from "../store/open.ts";
import { KEYRING_USAGE, parseKeyringChoice } from "../wire/types.ts";
import type { SecretStore } from "../store/store.ts";
import type { CliContext } from "./io.ts";
import { UsageError } from "./io.ts";
import { CONFIRM_PROMPT, FILE_STORE_PASSPHRASE, promptHidden } from "./prompt.ts";

export interface CliStore {
  config: AgentConfig;
  store: SecretStore;
  /** Why this store is the one in use. */
  why: string;
  fileDir: string;
  /** The other backend's description when it holds the account. */
  elsewhere: (account: string) => Promise<string | null>;
}

/** The config, for commands that work without an agent. */
export function loadCliConfig(ctx: CliContext, flags: { config?: string }): AgentConfig {
  const location = configPath(ctx.pathEnv, flags.config);
  return loadConfig(location.path, location.explicit);
}

/**
 * The file store's passphrase for a CLI command: from the environment, the passphrase file, or
 * asked on the terminal (twice when it makes a new store: a typo would lock the user out).
 */
export function cliPassphrase(ctx: CliContext, config: AgentConfig, fileDir: string): (creating: boolean) => Promise<Secret | null> {
  return async (creating) => {
    const fromEnv = ctx.env.CREDAGENT_FILE_PASSPHRASE;
    if (fromEnv) return new Secret(fromEnv);
    if (config.filePassphraseFile) return readPassphraseFile(config.filePassphraseFile);
    if (!process.stdin.isTTY) return null;
    if (!creating) return new Secret(await promptHidden(FILE_STORE_PASSPHRASE, ctx.err));
    ctx.err(`credagent: creating the encrypted file store at ${fileDir}: choose its passphrase (it cannot be recovered)\n`);
    const chosen = await promptHidden(FILE_STORE_PASSPHRASE, ctx.err);
    if (chosen === "") throw new UsageError("the passphrase is empty; no store was created");
    if ((await promptHidden(CONFIRM_PROMPT, ctx.err)) !== chosen) throw new UsageError("the two entries differ; no store was created");
    return new Secret(chosen);
  };
}

/** The config and the store as the agent would open them (or as `--keyring` says). */
export async function openCliStore(ctx: CliContext, flags: { config?: string; keyring?: string }): Promise<CliStore> {
  const keyring = flags.keyring === undefined ? undefined : parseKeyringChoice(flags.keyring);
  if (keyring === null) throw new UsageError(KEYRING_USAGE);
  const config = loadCliConfig(ctx, flags);
  const fileDir = fileStoreDir(ctx.pathEnv);
  const choice = keyring ?? config.keyring;
  const { store, why } = await openStore({
    choice,
    choiceFrom: flags.keyring !== undefined ? `--keyring ${flags.keyring}` : `keyring = "${config.keyring}"`,
    fileDir,
    passphrase: cliPassphrase(ctx, config, fileDir),
    onNotice: (message) => ctx.err(`credagent: ${message}\n`),
    noticeOnlyOnCreate: true,
  });
  return { config, store, why, fileDir, elsewhere: (account) => otherStoreHolding(store.backend, account, fileDir) };
}
