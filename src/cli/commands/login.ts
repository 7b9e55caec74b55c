import { AgentClient } from "../../client/client.ts";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { credentialName, defineCommand } from "../command.ts";

const usage = `usage: credagent login NAME [--no-qr]

Signs in a device_code credential (RFC 8628): prints the address to open and the code to enter
(and the complete address as a QR code on a terminal), then waits while you approve it. The
agent keeps the refresh token in the keyring and refreshes on its own from then on.`;

const POLL_MS = 500;
const SPINNER = ["|", "/", "-", "\\"];

export const login = defineCommand("login", usage, { "no-qr": { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  const name = credentialName(positionals);
  const client = new AgentClient(ctx.socketPath());
  const challenge = await client.startLogin(name);
  const tty = Boolean(process.stderr.isTTY);
  ctx.err(`To sign in '${name}', open ${challenge.verification_uri}\nand enter the code ${challenge.user_code}\n`);
  if (challenge.verification_uri_complete) {
    ctx.err(`(or open ${challenge.verification_uri_complete})\n`);
    if (tty && !values["no-qr"]) {
      const { renderUnicodeCompact } = await import("uqr");
      ctx.err(`${renderUnicodeCompact(challenge.verification_uri_complete)}\n`);
    }
  }
  const deadline = Date.now() + challenge.expires_in * 1000 + 5_000;
  for (let tick = 0; Date.now() < deadline; tick++) {
    if (tty) ctx.err(`\r${SPINNER[tick % SPINNER.length]} waiting for the sign-in to be approved...`);
    await Bun.sleep(POLL_MS);
    const status = await client.loginStatus(name);
    if (status.status === "done") {
      if (tty) ctx.err("\r\u001b[K");
      ctx.err(`credagent: '${name}' is signed in\n`);
      return EXIT.ok;
    }
    if (status.status === "failed" || status.status === "none") {
      if (tty) ctx.err("\r\u001b[K");
      throw new CredagentError("login_required", status.message ?? "the sign-in was abandoned");
    }
  }
  throw new CredagentError("login_required", `the code expired before it was approved; run credagent login ${name} again`);
});
