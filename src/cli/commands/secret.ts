import { CredagentError, describe } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { Secret } from "../../secret.ts";
import { credentialOf, refreshAccount, secretAccount } from "../../store/store.ts";
import { usesStoredSecret } from "../../config/store-users.ts";
import type { StoreStatus } from "../../wire/types.ts";
import { credentialName, defineCommand } from "../command.ts";
import { UsageError, type CliContext } from "../io.ts";
import { table } from "../output/table.ts";
import { CONFIRM_PROMPT, promptHidden, readStdinValue } from "../prompt.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent secret set NAME [--stdin]
       credagent secret rm NAME
       credagent secret list
       credagent secret move NAME --to os|file
  (each also takes --keyring auto|os|file and --config FILE)

Long-lived secrets (client secrets, private keys, static passwords) live in the OS keyring, or
in the encrypted file store where there is none, under the credential's NAME. Values are never
taken from the command line: 'set' prompts twice without echo on a terminal, or reads one value
from standard input with --stdin; the store is chosen (and a new file store's passphrase asked,
twice) before the value is. Works with or without a running agent. A running agent is told:
the credentials that use the secret and are failing (a missing secret, a rejected client secret)
try again at once; the others use it from their next fetch on ('credagent refresh NAME': now).
When the agent uses another store than this command did, it says so.

'move' takes NAME's secret (and a device login's refresh token) out of the other store and puts it
in the one named by --to: for a secret set while the other store was in use (before a keyring
existed, or in a shell without one).`;

const MAX_SECRET_BYTES = 64 * 1024;
/** The notice to a running agent is a nicety: a wedged agent must not hold up the command. */
const NOTICE_TIMEOUT_MS = 5_000;

export const secret = defineCommand(
  "secret",
  usage,
  {
    stdin: { type: "boolean" },
    keyring: { type: "string" },
    config: { type: "string" },
    to: { type: "string" },
  },
  async ({ values, positionals }, ctx) => {
    const [action, ...rest] = positionals;
    if (action !== "set" && action !== "rm" && action !== "list" && action !== "move")
      throw new UsageError("expected set, rm, list or move");
    if (action === "list" && rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    if (action !== "set" && values.stdin) throw new UsageError("--stdin goes with 'secret set'");
    if ((action === "move") !== (values.to !== undefined)) throw new UsageError("--to goes with 'secret move' (--to os or --to file)");
    const name = action === "list" ? "" : credentialName(rest);
    if (action === "move") {
      if (values.to !== "os" && values.to !== "file") throw new UsageError("--to takes os or file");
      if (values.keyring !== undefined) throw new UsageError("'secret move' takes --to, not --keyring");
      return moveSecret(ctx, name, values.to, values);
    }

    // Loaded only here: the config schema and the keyring addon stay off other commands' start-up.
    const { openCliStore } = await import("../store-access.ts");
    // The store first: where the value goes (and a new store's passphrase) is settled before the value is asked.
    const { config, store, elsewhere } = await openCliStore(ctx, values);
    if (action === "set") {
      const value = await readValue(Boolean(values.stdin), ctx.err);
      await store.set(secretAccount(name), value);
      ctx.err(`credagent: secret '${name}' stored in ${store.description}\n`);
      await tellAgent(ctx, name, store.backend);
    } else if (action === "rm") {
      if (!(await store.delete(secretAccount(name)))) {
        const other = await elsewhere(secretAccount(name));
        const hint = other
          ? `; ${other} holds one: 'credagent secret rm ${name} --keyring ${otherBackend(store.backend)}' removes it there`
          : "";
        ctx.err(`credagent secret: no secret named '${name}' in ${store.description}${hint}\n`);
        return EXIT.failed;
      }
      ctx.err(`credagent: secret '${name}' removed from ${store.description}\n`);
      await tellAgent(ctx, name, store.backend);
    } else {
      const stored = new Set(
        [...(await store.entries()).keys()].map((a) => credentialOf(a, "secret")).filter((n): n is string => n !== null),
      );
      const users = new Map<string, string[]>();
      for (const c of config.credentials) {
        if (usesStoredSecret(c)) users.set(c.name, [...(users.get(c.name) ?? []), `${c.name} (${c.source})`]);
      }
      const names = [...new Set([...stored, ...users.keys()])].sort();
      if (names.length === 0) ctx.out(`no secrets in ${store.description}\n`);
      else
        ctx.out(
          table(
            ["NAME", "STORED", "USED BY"],
            names.map((n) => [n, stored.has(n) ? "yes" : "missing", users.get(n)?.join(", ") ?? "-"]),
          ),
        );
      // A secret missing here may be in the other store: say where, and how to bring it over.
      for (const n of names.filter((n) => !stored.has(n))) {
        const other = await elsewhere(secretAccount(n));
        if (other)
          ctx.err(`credagent: '${n}' is in ${other}, not in ${store.description}: credagent secret move ${n} --to ${store.backend}\n`);
      }
    }
    return EXIT.ok;
  },
);

const otherBackend = (backend: string) => (backend === "file" ? "os" : "file");

/** `secret move NAME --to os|file`: the secret (and a device login's refresh token) from the other store into this one. */
async function moveSecret(ctx: CliContext, name: string, to: "os" | "file", flags: { config?: string }): Promise<number> {
  const { loadCliConfig, cliPassphrase } = await import("../store-access.ts");
  const { openStore, fileStoreExists } = await import("../../store/open.ts");
  const { fileStoreDir } = await import("../../paths.ts");
  const config = loadCliConfig(ctx, flags);
  const fileDir = fileStoreDir(ctx.pathEnv);
  const from = to === "os" ? "file" : "os";
  if (from === "file" && !fileStoreExists(fileDir)) {
    ctx.err(`credagent secret: there is no encrypted file store at ${fileDir}: nothing to move\n`);
    return EXIT.failed;
  }
  const open = (choice: "os" | "file") =>
    openStore({ choice, choiceFrom: `secret move --to ${to}`, fileDir, passphrase: cliPassphrase(ctx, config, fileDir) });
  const source = (await open(from)).store;
  const accounts = [secretAccount(name), refreshAccount(name)];
  const found = new Map<string, Secret>();
  for (const account of accounts) {
    const value = await source.get(account);
    if (value) found.set(account, value);
  }
  if (found.size === 0) {
    ctx.err(`credagent secret: no secret named '${name}' in ${source.description}: nothing to move\n`);
    return EXIT.failed;
  }
  const target = (await open(to)).store;
  try {
    for (const [account, value] of found) {
      const existing = await target.get(account);
      const replaced = existing !== null;
      existing?.wipe();
      await target.set(account, value);
      // Removed from where it was only once it reads back the same from where it went.
      const back = await target.get(account);
      const same = back !== null && Buffer.from(back.bytes()).equals(Buffer.from(value.bytes()));
      back?.wipe();
      if (!same)
        throw new CredagentError(
          "store_unavailable",
          `the ${account} entry did not read back from ${target.description}; nothing was removed`,
        );
      await source.delete(account);
      const what = account.startsWith("refresh:") ? `the refresh token of '${name}'` : `secret '${name}'`;
      ctx.err(
        `credagent: ${what} moved from ${source.description} to ${target.description}${replaced ? " (replacing the value there)" : ""}\n`,
      );
    }
  } finally {
    for (const value of found.values()) value.wipe();
  }
  await tellAgent(ctx, name, target.backend);
  return EXIT.ok;
}

async function readValue(fromStdin: boolean, err: (text: string) => void): Promise<Secret> {
  let value: string;
  if (fromStdin) {
    value = await readStdinValue();
  } else {
    value = await promptHidden("Secret value: ", err);
    const again = await promptHidden(CONFIRM_PROMPT, err);
    if (again !== value) throw new UsageError("the two entries differ; nothing was stored");
  }
  if (value === "") throw new UsageError("the value is empty; nothing was stored");
  if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw new UsageError(`the value is larger than ${MAX_SECRET_BYTES} bytes`);
  return new Secret(value);
}

/**
 * Tells a running agent the secret changed, so that what failed for want of it is retried now. No
 * agent is fine. An agent using the other store does not see this one: said, with what to do.
 */
async function tellAgent(ctx: CliContext, name: string, wroteTo: string): Promise<void> {
  const client = agentOf(ctx, NOTICE_TIMEOUT_MS);
  let retried: string[];
  let refreshed: string[] | undefined;
  let agentStore: StoreStatus | undefined;
  try {
    agentStore = (await client.health()).store;
    ({ retried, refreshed } = await client.secretChanged(name));
  } catch (err) {
    if (err instanceof CredagentError && err.code === "agent_not_running") return;
    ctx.err(
      `credagent: the running agent was not told (${describe(err)}); it uses the secret from its next fetch on, at once with: credagent refresh ${name}\n`,
    );
    return;
  }
  if (agentStore?.backend && agentStore.backend !== wroteTo) {
    ctx.err(
      `credagent: the running agent uses ${agentStore.state === "open" ? agentStore.description : "the encrypted file store"}, not the store this command used: ` +
        `it does not see this change. 'credagent secret move ${name} --to ${agentStore.backend}' puts the secret there` +
        `${agentStore.reason ? ` (the agent's store: ${agentStore.reason})` : ""}\n`,
    );
  }
  if (retried.length > 0)
    ctx.err(`credagent: the running agent retries ${retried.map((n) => `'${n}'`).join(", ")} without waiting for its backoff\n`);
  if (refreshed && refreshed.length > 0)
    ctx.err(`credagent: the running agent fetched ${refreshed.map((n) => `'${n}'`).join(", ")} again with it; the files it keeps follow\n`);
}
