import { closeSync, constants, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CredagentError } from "../errors.ts";
import { isWindowsPipe, stateDir, type PathEnv } from "../paths.ts";
import type { Secret } from "../secret.ts";

// Where `credagent env --sdk` and `exec --sdk` learn the endpoints' address and secret: a file
// beside the socket that only the user can read (as the session token is), written by the agent
// at start and removed when it stops. The secret never goes through argv or the API.

/** What the file holds. */
export interface EndpointsInfo {
  /** http://127.0.0.1:PORT */
  url: string;
  secret: string;
  azure: boolean;
  /** Azure's protocols without a secret (IMDS, Cloud Shell): served only where the peer's uid is checked. */
  azureImds?: boolean;
  aws: boolean;
  gcp: boolean;
  /** [endpoints] gcp_project: also given to the Google libraries as GOOGLE_CLOUD_PROJECT. */
  gcpProject?: string;
}

export const AZURE_PATH = "/msi/token";
export const AWS_PATH = "/aws/credentials";

export function endpointsInfoPath(socketPath: string, p: PathEnv): string {
  if (isWindowsPipe(socketPath)) return join(stateDir(p), "sdk-endpoints.json");
  return `${socketPath}.endpoints`;
}

export function writeEndpointsInfo(path: string, info: Omit<EndpointsInfo, "secret">, secret: Secret): { remove(): void } {
  rmSync(path, { force: true });
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    // JSON written around the secret's bytes: its value never becomes a string in the agent.
    const [head, tail] = JSON.stringify({ ...info, secret: "\u0000" }).split("\\u0000");
    writeSync(fd, head!);
    writeSync(fd, secret.bytes());
    writeSync(fd, `${tail}\n`);
  } finally {
    closeSync(fd);
  }
  return { remove: () => rmSync(path, { force: true }) };
}

export function readEndpointsInfo(path: string): EndpointsInfo {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new CredagentError(
        "unavailable",
        'the agent serves no SDK endpoints: enable them in the config ([endpoints] azure = true, aws = "NAME" or gcp = "NAME"), then credagent stop && credagent start',
      );
    }
    throw new CredagentError("unavailable", `cannot read the SDK endpoints' file ${path}: ${code ?? String(err)}`, { cause: err });
  }
  const info = JSON.parse(text) as EndpointsInfo;
  if (typeof info.url !== "string" || typeof info.secret !== "string")
    throw new CredagentError("unavailable", `${path} is not an SDK endpoints file`);
  return info;
}

/** The variables each SDK reads (a fixed order, for stable output). */
export function sdkVariables(info: EndpointsInfo): Array<[string, string]> {
  const vars: Array<[string, string]> = [];
  const hostPort = new URL(info.url).host;
  // Azure: App Service 2019 (today's SDKs: they try these first), then MSI_* (App Service 2017,
  // Azure ML, Cloud Shell: azure-cli and older SDKs), then IMDS (clients that know only IMDS).
  if (info.azure) {
    vars.push(["IDENTITY_ENDPOINT", `${info.url}${AZURE_PATH}`], ["IDENTITY_HEADER", info.secret]);
    vars.push(["MSI_ENDPOINT", `${info.url}${AZURE_PATH}`], ["MSI_SECRET", info.secret]);
    if (info.azureImds) vars.push(["AZURE_POD_IDENTITY_AUTHORITY_HOST", info.url]);
  }
  if (info.aws)
    vars.push(["AWS_CONTAINER_CREDENTIALS_FULL_URI", `${info.url}${AWS_PATH}`], ["AWS_CONTAINER_AUTHORIZATION_TOKEN", info.secret]);
  // GCE_METADATA_ROOT: the name google-auth 1.x and gcloud read (later libraries read GCE_METADATA_HOST first).
  if (info.gcp) vars.push(["GCE_METADATA_HOST", hostPort], ["GCE_METADATA_IP", hostPort], ["GCE_METADATA_ROOT", hostPort]);
  // Without it google-auth-library runs `gcloud config config-helper` to look for a project
  // before asking the metadata server: half a second per new GoogleAuth.
  if (info.gcp && info.gcpProject) vars.push(["GOOGLE_CLOUD_PROJECT", info.gcpProject]);
  return vars;
}
