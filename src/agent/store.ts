import type { AgentConfig } from "../config/load.ts";
import type { Logger } from "../log/log.ts";
import { fileStoreDir, type PathEnv } from "../paths.ts";
import { takeEnvironmentValue } from "../platform/process-hardening.ts";
import { Secret } from "../secret.ts";
import { credentialsNeedingStore } from "../config/store-users.ts";
import { LazyStore, openStore, otherStoreHolding, readPassphraseFile, storeIntent, type KeyringChoice } from "../store/open.ts";

// The agent's secret store, opened at its first use: the keyring or the encrypted file store, as
// the config and --keyring say. Without a passphrase the file store waits, locked, for one from
// `credagent unlock`.

export function openAgentStore(options: {
  config: AgentConfig;
  keyring: KeyringChoice | undefined;
  pathEnv: PathEnv;
  log: Logger;
}): LazyStore {
  const { config, log } = options;
  // Read once and removed, so that no command source ever sees it in its environment.
  const fromEnv = takeEnvironmentValue("CREDAGENT_FILE_PASSPHRASE");
  // Held as bytes, for the life of the agent: the store is opened again after an unlock.
  const envPassphrase = fromEnv === undefined ? undefined : new Secret(fromEnv);
  const keyring = options.keyring ?? config.keyring;
  // Where the choice was made, for `credagent status`'s "why this store".
  const choiceFrom = options.keyring ? `--keyring ${options.keyring}` : `keyring = "${config.keyring}"`;
  const fileDir = fileStoreDir(options.pathEnv);
  let fallbackTold = false;
  const store = new LazyStore(
    (given, firstAccount) =>
      openStore({
        choice: keyring,
        choiceFrom,
        fileDir,
        inAgent: true,
        ...(firstAccount === undefined ? {} : { firstAccount }),
        passphrase: async () => {
          const held = envPassphrase ?? given;
          if (held) return new Secret(held.bytes().slice());
          return config.filePassphraseFile ? readPassphraseFile(config.filePassphraseFile) : null;
        },
        // Once per agent: while the file store waits, each use tries the keyring again.
        onNotice: (message) => {
          if (!fallbackTold) log.warn(message);
          fallbackTold = true;
        },
      }).then((opened) => {
        log.info("secret store opened", { store: opened.store.description, why: opened.why });
        return opened;
      }),
    {
      waiting: keyring === "file" && !envPassphrase && !config.filePassphraseFile,
      intent: storeIntent(keyring, choiceFrom, fileDir),
      // A secret missing from the store in use may be in the other one: said, with how to move it.
      elsewhere: (inUse, account) => otherStoreHolding(inUse, account, fileDir),
    },
  );
  if (store.status().state === "locked") {
    const needing = credentialsNeedingStore(config);
    // A warning only when a credential cannot be served without it (tokens are cached there too).
    (needing.length > 0 ? log.warn : log.info)(
      "the encrypted file store is locked until 'credagent unlock' gives the agent its passphrase",
      {
        store: fileDir,
        needed_by: needing.join(",") || "-",
      },
    );
  }
  return store;
}
