import { CredagentError, describe } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { Secret } from "../../secret.ts";
import { credentialOf, secretAccount } from "../../store/store.ts";
import { credentialName, defineCommand } from "../command.ts";
import { UsageError, type CliContext } from "../io.ts";
import { table } from "../output/table.ts";
import { promptHidden, readStdinValue } from "../prompt.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent secret set NAME [--stdin]
       credagent secret rm NAME
       credagent secret list
  (each also takes --keyring auto|os|file and --config FILE)

Long-lived secrets (client secrets, private keys, static passwords) live in the OS keyring, or
in the encrypted file store where there is none, under the credential's NAME. Values are never
taken from the command line: 'set' prompts twice without echo on a terminal, or reads one value
from standard input with --stdin. Works with or without a running agent. A running agent is told:
the credentials that use the secret and are failing (a missing secret, a rejected client secret)
try again at once; the others use it from their next fetch on ('credagent refresh NAME': now).`;

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
  },
  async ({ values, positionals }, ctx) => {
    const [action, ...rest] = positionals;
    if (action !== "set" && action !== "rm" && action !== "list") throw new UsageError("expected set, rm or list");
    if (action === "list" && rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    if (action !== "set" && values.stdin) throw new UsageError("--stdin goes with 'secret set'");
    const name = action === "list" ? "" : credentialName(rest);

    const value = action === "set" ? await readValue(Boolean(values.stdin), ctx.err) : undefined;
    // Loaded only here: the config schema and the keyring addon stay off other commands' start-up.
    const { openCliStore } = await import("../store-access.ts");
    const { config, store } = await openCliStore(ctx, values);
    if (action === "set") {
      await store.set(secretAccount(name), value!);
      ctx.err(`credagent: secret '${name}' stored in ${store.description}\n`);
      await tellAgent(ctx, name);
    } else if (action === "rm") {
      if (!(await store.delete(secretAccount(name)))) {
        ctx.err(`credagent secret: no secret named '${name}' in ${store.description}\n`);
        return EXIT.failed;
      }
      ctx.err(`credagent: secret '${name}' removed from ${store.description}\n`);
      await tellAgent(ctx, name);
    } else {
      const stored = new Set(
        [...(await store.entries()).keys()].map((a) => credentialOf(a, "secret")).filter((n): n is string => n !== null),
      );
      const users = new Map<string, string[]>();
      for (const c of config.credentials) {
        const usesSecret = c.source === "static" || (c.source === "oauth2" && c.clientAuth !== "none");
        if (usesSecret) users.set(c.name, [...(users.get(c.name) ?? []), `${c.name} (${c.source})`]);
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
    }
    return EXIT.ok;
  },
);

async function readValue(fromStdin: boolean, err: (text: string) => void): Promise<Secret> {
  let value: string;
  if (fromStdin) {
    value = await readStdinValue();
  } else {
    value = await promptHidden("Secret value: ", err);
    const again = await promptHidden("Again, to confirm: ", err);
    if (again !== value) throw new UsageError("the two entries differ; nothing was stored");
  }
  if (value === "") throw new UsageError("the value is empty; nothing was stored");
  if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw new UsageError(`the value is larger than ${MAX_SECRET_BYTES} bytes`);
  return new Secret(value);
}

/** Tells a running agent the secret changed, so that what failed for want of it is retried now. No agent is fine. */
async function tellAgent(ctx: CliContext, name: string): Promise<void> {
  let retried: string[];
  let refreshed: string[] | undefined;
  try {
    ({ retried, refreshed } = await agentOf(ctx, NOTICE_TIMEOUT_MS).secretChanged(name));
  } catch (err) {
    if (err instanceof CredagentError && err.code === "agent_not_running") return;
    ctx.err(
      `credagent: the running agent was not told (${describe(err)}); it uses the secret from its next fetch on, at once with: credagent refresh ${name}\n`,
    );
    return;
  }
  if (retried.length > 0)
    ctx.err(`credagent: the running agent retries ${retried.map((n) => `'${n}'`).join(", ")} without waiting for its backoff\n`);
  if (refreshed && refreshed.length > 0)
    ctx.err(`credagent: the running agent fetched ${refreshed.map((n) => `'${n}'`).join(", ")} again with it; the files it keeps follow\n`);
}
