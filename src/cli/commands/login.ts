import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { credentialName, defineCommand } from "../command.ts";
import { foregroundClock, pollUntil } from "../../time/clock.ts";
import { agentOf } from "../agent.ts";
import { printable } from "../../printable.ts";

const usage = `usage: credagent login NAME [--no-qr]

Signs in a device_code credential (RFC 8628): prints the address to open and the code to enter
(and the complete address as a QR code on a terminal), then waits while you approve it. The
agent keeps the refresh token in the keyring and refreshes on its own from then on.`;

const POLL_MS = 500;
const SPINNER = ["|", "/", "-", "\\"];

export const login = defineCommand("login", usage, { "no-qr": { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  const name = credentialName(positionals);
  const client = agentOf(ctx);
  const challenge = await client.startLogin(name);
  const tty = Boolean(process.stderr.isTTY);
  // From the identity provider: shown printable.
  ctx.err(`To sign in '${name}', open ${printable(challenge.verification_uri)}\nand enter the code ${printable(challenge.user_code)}\n`);
  if (challenge.verification_uri_complete) {
    ctx.err(`(or open ${printable(challenge.verification_uri_complete)})\n`);
    if (tty && !values["no-qr"]) {
      const { renderUnicodeCompact } = await import("uqr");
      ctx.err(`${renderUnicodeCompact(challenge.verification_uri_complete)}\n`);
    }
  }
  let tick = 0;
  const settled = await pollUntil(
    async () => {
      if (tty) ctx.err(`\r${SPINNER[tick++ % SPINNER.length]} waiting for the sign-in to be approved...`);
      const status = await client.loginStatus(name);
      return status.status === "pending" ? null : status;
    },
    { timeoutMs: challenge.expires_in * 1000 + 5_000, intervalMs: POLL_MS, clock: foregroundClock },
  );
  if (tty) ctx.err("\r\u001b[K");
  if (settled?.status === "done") {
    ctx.err(`credagent: '${name}' is signed in\n`);
    return EXIT.ok;
  }
  if (settled) throw new CredagentError("login_required", settled.message ?? "the sign-in was abandoned");
  throw new CredagentError("login_required", `the code expired before it was approved; run credagent login ${name} again`);
});
