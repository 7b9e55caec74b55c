import { EXIT } from "../../exit-codes.ts";
import { credentialName, defineCommand } from "../command.ts";
import { credentialParts } from "../credential-parts.ts";
import { UsageError } from "../io.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent kube-credential NAME

A kubectl exec credential plugin: prints an ExecCredential holding credential NAME's token and
its expiry, in the apiVersion kubectl asks for (client.authentication.k8s.io/v1 or v1beta1, read
from KUBERNETES_EXEC_INFO). kubectl runs it again when the token expires. In a kubeconfig user:

  users:
  - name: dev
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: credagent
        args: [kube-credential, NAME]
        interactiveMode: Never`;

const API_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

/** The apiVersion kubectl's KUBERNETES_EXEC_INFO names; v1 when it names none (an older kubectl, a manual run). */
export function execApiVersion(info: string | undefined): string {
  if (info === undefined || info === "") return API_VERSIONS[0]!;
  let apiVersion: unknown;
  try {
    apiVersion = (JSON.parse(info) as { apiVersion?: unknown }).apiVersion;
  } catch {
    throw new UsageError("KUBERNETES_EXEC_INFO is not JSON");
  }
  if (typeof apiVersion !== "string" || !API_VERSIONS.includes(apiVersion)) {
    throw new UsageError(
      `kubectl asks for ${JSON.stringify(apiVersion)}; credagent speaks ${API_VERSIONS.join(" and ")}: set that apiVersion in the kubeconfig's exec section`,
    );
  }
  return apiVersion;
}

export const kubeCredential = defineCommand("kube-credential", usage, {}, async ({ positionals }, ctx) => {
  const name = credentialName(positionals);
  const apiVersion = execApiVersion(ctx.env.KUBERNETES_EXEC_INFO);
  const answer = await agentOf(ctx).token(name);
  const { password: token } = credentialParts(answer);
  // metav1.Time: RFC 3339 in whole seconds.
  const expirationTimestamp = new Date(answer.expires_at).toISOString().replace(/\.\d{3}Z$/, "Z");
  ctx.out(`${JSON.stringify({ apiVersion, kind: "ExecCredential", status: { token, expirationTimestamp } })}\n`);
  return EXIT.ok;
});
