import type { AgentApi } from "../../client/client.ts";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { Secret } from "../../secret.ts";
import type { HealthResponse } from "../../wire/types.ts";
import type { Command } from "../command.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { UsageError, type CliContext } from "../io.ts";
import { CONFIRM_PROMPT, FILE_STORE_PASSPHRASE, promptHidden, readStdinValue } from "../prompt.ts";
import { foregroundClock, pollUntil } from "../../time/clock.ts";
import { agentOf } from "../agent.ts";

/** How long `unlock` keeps trying an attempt the agent refused as too early, before giving up. */
const UNLOCK_PATIENCE_MS = 30_000;
const UNLOCK_RETRY_MS = 250;

const lockUsage = `usage: credagent lock [--stdin]

Locks the agent (as ssh-add -x): it drops every token and secret from memory and refuses
credential requests with 423 'locked' until 'credagent unlock' with the same passphrase.
The passphrase is asked twice without echo, or read from standard input with --stdin.`;

const unlockUsage = `usage: credagent unlock [--stdin]

Unlocks the agent (as ssh-add -X) with the passphrase given to 'credagent lock'; cached tokens are
reloaded from the keyring. When the agent is not locked but its encrypted file store waits for its
passphrase ('credagent status' says: store locked), gives the running agent that passphrase
instead, and the agent opens the store. After a failed attempt the agent takes the next one no sooner than
0.1 s per failure later (up to 10 s) and refuses those that come earlier, or while another attempt
is being checked; unlock then waits and tries again by itself, for up to ${UNLOCK_PATIENCE_MS / 1000} s.`;

async function readPassphrase(ctx: CliContext, fromStdin: boolean, confirm: boolean, prompt = "Agent lock passphrase: "): Promise<Secret> {
  const value = fromStdin ? await readStdinValue() : await promptHidden(prompt, ctx.err);
  if (!fromStdin && confirm && (await promptHidden(CONFIRM_PROMPT, ctx.err)) !== value) {
    throw new UsageError("the two entries differ; the agent was not locked");
  }
  if (value === "") throw new UsageError("the passphrase is empty");
  return new Secret(value);
}

function lockCommand(name: "lock" | "unlock", usage: string): Command {
  return defineCommand(name, usage, { stdin: { type: "boolean" } }, async ({ values, positionals }, ctx) => {
    noPositionals(positionals);
    const client = agentOf(ctx);
    const health = await client.health();
    // The agent sends this passphrase to the store when it is not locked itself (see the route).
    const forStore = name === "unlock" && !health.locked && health.store?.state === "locked";
    const prompt = forStore ? FILE_STORE_PASSPHRASE : undefined;
    const passphrase = await readPassphrase(ctx, Boolean(values.stdin), name === "lock", prompt);
    if (name === "lock") await client.lock(passphrase);
    else await unlockPatiently(client, passphrase, ctx);
    ctx.err(forStore ? "credagent: secret store unlocked\n" : `credagent: agent ${name === "lock" ? "locked" : "unlocked"}\n`);
    return EXIT.ok;
  });
}

/**
 * The agent refuses an attempt at once while another is being checked or the backoff after a
 * failure lasts (too_many_attempts). A person who typed the passphrase is not asked to type it
 * again for that: the same attempt is retried until the agent takes it, within a bound.
 */
async function unlockPatiently(client: AgentApi, passphrase: Secret, ctx: CliContext): Promise<void> {
  const clock = foregroundClock;
  const started = clock.now();
  let told = false;
  let refused: unknown;
  const unlocked = await pollUntil(
    async () => {
      try {
        await client.unlock(passphrase);
        return true;
      } catch (err) {
        if (!(err instanceof CredagentError && err.code === "too_many_attempts")) throw err;
        refused = err;
        // Said only when the wait is long enough to notice: the backoff after one typo is 0.1 s.
        if (!told && clock.now() - started >= 1_000) {
          ctx.err(
            "credagent unlock: the agent is not taking unlock attempts yet (other attempts, or the backoff after failed ones); waiting\n",
          );
          told = true;
        }
        return null;
      }
    },
    { timeoutMs: UNLOCK_PATIENCE_MS - UNLOCK_RETRY_MS, intervalMs: UNLOCK_RETRY_MS, clock },
  );
  if (unlocked) return;
  throw new CredagentError(
    "too_many_attempts",
    `the agent kept refusing the attempt for ${UNLOCK_PATIENCE_MS / 1000} s because of other unlock attempts ` +
      `(someone may be guessing the passphrase); the agent stays locked, try again later`,
    { cause: refused },
  );
}

/**
 * What `start` says when the store waits for its passphrase and it does not ask, naming the
 * credentials that need it (cli/fast-start.ts has a copy).
 */
export function storeStaysLocked(needing: string[] | undefined): string {
  const names = needing && needing.length > 0 ? ` (${needing.map((n) => `'${n}'`).join(", ")} cannot be served without it)` : "";
  return `credagent: the agent's encrypted file store stays locked until 'credagent unlock' gives it its passphrase${names}\n`;
}

/** How many passphrases `start` takes on a terminal before leaving the store to `credagent unlock`. */
const START_ATTEMPTS = 3;

/**
 * For `start`: when the agent's file store waits for its passphrase and a configured credential
 * cannot be served without it, asks for it on a terminal (an empty answer skips) and gives it to
 * the agent; elsewhere only says what to run. Nothing is said when no credential needs the store
 * (tokens are cached there, which they can do without).
 */
export async function offerStoreUnlock(client: AgentApi, health: HealthResponse, ctx: CliContext): Promise<void> {
  if (health.locked || health.store?.state !== "locked") return;
  // Agents older than needed_by say nothing of it: asked as before.
  const needing = health.store.needed_by;
  if (needing && needing.length === 0) return;
  const names = needing ? ` (${needing.map((n) => `'${n}'`).join(", ")} cannot be served without it)` : "";
  const later = storeStaysLocked(needing);
  if (!process.stdin.isTTY) return ctx.err(later);
  ctx.err(`credagent: the agent's encrypted file store is locked${names}; give its passphrase, or an empty one to skip\n`);
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt += 1) {
    const value = await promptHidden(FILE_STORE_PASSPHRASE, ctx.err);
    if (value === "") return ctx.err(later);
    try {
      await unlockPatiently(client, new Secret(value), ctx);
      return ctx.err("credagent: secret store unlocked\n");
    } catch (err) {
      if (!(err instanceof CredagentError && err.code === "forbidden")) throw err;
      ctx.err(`credagent: ${err.message}\n`);
    }
  }
  ctx.err(later);
}

export const lock = lockCommand("lock", lockUsage);
export const unlock = lockCommand("unlock", unlockUsage);
