import { parseDuration } from "../../duration.ts";
import { EXIT } from "../../exit-codes.ts";
import { credentialName, defineCommand } from "../command.ts";
import { credentialParts } from "../credential-parts.ts";
import { UsageError } from "../io.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent get NAME [--json] [--min-valid DUR] [--negotiate URL]

Prints the current token of credential NAME alone on stdout, for $(credagent get NAME); for a
password credential, its password. An AWS credential has no single secret: use --json, or
'credagent aws-credential NAME'.

  --json            the whole answer: kind, token, token_type, expires_at, expires_in, and
                    username, password or aws (access_key_id, secret_access_key, session_token)
  --min-valid DUR   a token valid for at least this long (e.g. 10m), refreshed first if needed
  --negotiate URL   a kerberos credential: the value of an "Authorization: Negotiate ..." header
                    for that http(s) service (SPNEGO, for the service principal HTTP/host), for
                    tools that take a header but cannot do Kerberos:
                    curl -H "Authorization: $(credagent get corp --negotiate https://intranet/)" ...
                    Each value is a fresh authenticator: a secret, accepted within the service's
                    clock skew (5 minutes)`;

export const get = defineCommand(
  "get",
  usage,
  {
    json: { type: "boolean" },
    "min-valid": { type: "string" },
    negotiate: { type: "string" },
  },
  async ({ values, positionals }, ctx) => {
    const name = credentialName(positionals);
    const minValid = values["min-valid"] === undefined ? undefined : parseDuration(values["min-valid"]);
    if (values["min-valid"] !== undefined && minValid === undefined) {
      throw new UsageError("--min-valid takes a duration such as 90s or 10m");
    }
    if (values.negotiate !== undefined) {
      if (minValid !== undefined) throw new UsageError("--min-valid does not go with --negotiate");
      const answer = await agentOf(ctx).negotiate(name, values.negotiate);
      ctx.out(values.json ? `${JSON.stringify(answer, null, 2)}\n` : `${answer.authorization}\n`);
      return EXIT.ok;
    }
    const token = await agentOf(ctx).token(name, minValid === undefined ? undefined : Math.ceil(minValid / 1000));
    ctx.out(values.json ? `${JSON.stringify(token, null, 2)}\n` : `${credentialParts(token).password}\n`);
    return EXIT.ok;
  },
);
