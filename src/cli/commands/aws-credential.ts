import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { credentialName, defineCommand } from "../command.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent aws-credential NAME

Prints AWS credential_process output (Version 1) for credential NAME, an AWS key: the AWS CLI and
SDKs run it when a profile says so, and run it again at the Expiration it gives. In ~/.aws/config:

  [profile dev]
  credential_process = credagent aws-credential NAME`;

export const awsCredential = defineCommand("aws-credential", usage, {}, async ({ positionals }, ctx) => {
  const name = credentialName(positionals);
  const answer = await agentOf(ctx).token(name);
  if (!answer.aws) {
    throw new CredagentError(
      "bad_request",
      `the credential '${name}' is ${answer.kind === "password" ? "a password" : "a token"}, not an AWS key: its source must print AccessKeyId and SecretAccessKey (e.g. command = ["aws", "configure", "export-credentials", "--profile", "P", "--format", "process"])`,
    );
  }
  const output = {
    Version: 1,
    AccessKeyId: answer.aws.access_key_id,
    SecretAccessKey: answer.aws.secret_access_key,
    ...(answer.aws.session_token === undefined ? {} : { SessionToken: answer.aws.session_token }),
    Expiration: answer.expires_at,
  };
  ctx.out(`${JSON.stringify(output)}\n`);
  return EXIT.ok;
});
