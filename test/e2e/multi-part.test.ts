import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, Sandbox } from "./harness.ts";

// Credentials with more than one part (a user name and a password; an AWS key), as the socket API
// answers them and as the real AWS CLI (credential_process) and kubectl (exec plugin) take them.

let box: Sandbox;
const AWS = existsSync("/usr/bin/aws") ? "/usr/bin/aws" : null;
if (!AWS && process.env.CI === "true") throw new Error("CI=true and Debian's awscli (/usr/bin/aws) is missing: test/run.sh installs it");
if (!AWS) console.warn("skipping the AWS CLI test: Debian's awscli is not installed (apt-get install awscli)");
const KUBECTL = Bun.which("kubectl");
if (!KUBECTL && process.env.CI === "true") throw new Error("CI=true and kubectl is missing: test/run.sh installs kubernetes-client");
if (!KUBECTL) console.warn("skipping the kubectl test: kubectl is not installed (apt-get install kubernetes-client)");

beforeAll(async () => {
  box = new Sandbox();
  const pg = box.script("pg.sh", `printf '%s\\n' '{"username":"app","password":"pa:ss\\"word","expires_in":600}'`);
  const aws = box.script(
    "aws.sh",
    `n=$(($(cat ${box.root}/aws.count 2>/dev/null || echo 0) + 1)); echo $n > ${box.root}/aws.count\n` +
      `exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)\n` +
      `printf '{"Version":1,"AccessKeyId":"AKIAEXAMPLE%s","SecretAccessKey":"wJalr/K7MDENG+%s","SessionToken":"FwoGZX%s==","Expiration":"%s"}' $n $n $n $exp`,
  );
  const tok = box.script("tok.sh", `echo '{"access_token":"kube-token-1","expires_in":900}'`);
  box.writeConfig(
    `[credentials.pg]\nsource = "command"\ncommand = ["${pg}"]\n\n` +
      `[credentials.aws]\nsource = "command"\ncommand = ["${aws}"]\n\n` +
      `[credentials.kube]\nsource = "command"\ncommand = ["${tok}"]\nusername = "fixed-user"\n`,
  );
  await box.start();
}, 30_000);
afterAll(async () => {
  await box?.cleanup();
});

const json = (body: string) => JSON.parse(body) as Record<string, unknown>;

test("the API: a bearer token as before (plus kind and a configured username), a password with its user, an AWS key's parts", async () => {
  const kube = json((await box.request("GET", "/v1/credentials/kube")).body);
  expect(kube).toMatchObject({ name: "kube", kind: "bearer", token: "kube-token-1", token_type: "Bearer", username: "fixed-user" });
  expect(kube.password).toBeUndefined();

  const pg = json((await box.request("GET", "/v1/credentials/pg")).body);
  expect(pg).toMatchObject({ name: "pg", kind: "password", username: "app", password: 'pa:ss"word', token: 'pa:ss"word' });

  const aws = json((await box.request("GET", "/v1/credentials/aws")).body);
  expect(aws.kind).toBe("aws");
  expect(aws.token).toBeUndefined();
  expect(aws.aws).toMatchObject({
    access_key_id: expect.stringMatching(/^AKIAEXAMPLE\d+$/),
    secret_access_key: expect.stringMatching(/^wJalr\/K7MDENG\+\d+$/),
    session_token: expect.stringMatching(/^FwoGZX\d+==$/),
  });
  expect(Date.parse(aws.expires_at as string) - Date.now()).toBeGreaterThan(3_000_000);
});

test("the CLI: get prints the password; an AWS key needs --json; exec --env takes NAME:PART", async () => {
  expect((await box.run(["get", "pg"])).stdout).toBe('pa:ss"word\n');
  const awsGet = await box.run(["get", "aws"]);
  expect(awsGet.code).toBe(1);
  expect(awsGet.stderr).toContain("credagent aws-credential aws");
  expect(JSON.parse((await box.run(["get", "aws", "--json"])).stdout).aws.access_key_id).toMatch(/^AKIAEXAMPLE/);
  const exec = await box.run([
    "exec",
    "--env",
    "U=pg:username",
    "--env",
    "P=pg",
    "--env",
    "K=aws:access_key_id",
    "--env",
    "S=aws:session_token",
    "--",
    "sh",
    "-c",
    'printf "%s|%s|%s|%s" "$U" "$P" "$K" "$S"',
  ]);
  expect(exec.stderr).toBe("");
  expect(exec.stdout).toMatch(/^app\|pa:ss"word\|AKIAEXAMPLE\d+\|FwoGZX\d+==$/);
  const missing = await box.run(["exec", "--env", "X=kube:session_token", "--", "true"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain("has no session_token");
  const badPart = await box.run(["exec", "--env", "X=kube:nope", "--", "true"]);
  expect(badPart.code).toBe(2);
  expect(badPart.stderr).toContain("'nope' is not a part");
});

test.skipIf(!AWS)(
  "Debian's AWS CLI takes the key through credential_process = credagent aws-credential NAME",
  async () => {
    const config = join(box.root, "aws-config");
    writeFileSync(config, `[profile dev]\ncredential_process = ${BIN} aws-credential aws\nregion = us-east-1\n`);
    const proc = Bun.spawn([AWS!, "configure", "export-credentials", "--profile", "dev", "--format", "process"], {
      env: {
        ...box.env,
        CRED_SOCK: box.socket,
        AWS_CONFIG_FILE: config,
        AWS_SHARED_CREDENTIALS_FILE: join(box.root, "none"),
        AWS_EC2_METADATA_DISABLED: "true",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    const agent = JSON.parse((await box.run(["get", "aws", "--json"])).stdout);
    expect(out).toMatchObject({
      Version: 1,
      AccessKeyId: agent.aws.access_key_id,
      SecretAccessKey: agent.aws.secret_access_key,
      SessionToken: agent.aws.session_token,
    });
    expect(Date.parse(out.Expiration)).toBe(Date.parse(agent.expires_at));
    // A credential that is not an AWS key: the CLI hears why.
    const notAws = await box.run(["aws-credential", "pg"]);
    expect(notAws.code).toBe(1);
    expect(notAws.stderr).toContain("not an AWS key");
  },
  30_000,
);

test.skipIf(!KUBECTL)(
  "kubectl authenticates with the token through the exec plugin, in the apiVersion it asks for",
  async () => {
    // client-go runs exec plugins only for https servers: a throwaway certificate for 127.0.0.1.
    const cert = join(box.root, "api.crt");
    const key = join(box.root, "api.key");
    const made = Bun.spawnSync(
      [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key,
        "-out",
        cert,
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stderr: "pipe" },
    );
    expect(made.exitCode).toBe(0);
    const seen: string[] = [];
    const api = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") },
      fetch(req) {
        seen.push(req.headers.get("authorization") ?? "");
        if (req.headers.get("authorization") !== "Bearer kube-token-1")
          return Response.json({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "Unauthorized", code: 401 }, { status: 401 });
        return Response.json({ major: "1", minor: "30", gitVersion: "v1.30.0-credagent-test" });
      },
    });
    try {
      for (const apiVersion of ["client.authentication.k8s.io/v1beta1", "client.authentication.k8s.io/v1"]) {
        const kubeconfig = join(box.root, "kubeconfig");
        writeFileSync(
          kubeconfig,
          JSON.stringify({
            apiVersion: "v1",
            kind: "Config",
            clusters: [
              {
                name: "c",
                cluster: { server: `https://127.0.0.1:${api.port}`, "certificate-authority-data": readFileSync(cert).toString("base64") },
              },
            ],
            // interactiveMode is required in v1 and unknown to the v1beta1 of older kubectl (Debian's 1.20).
            users: [
              {
                name: "u",
                user: {
                  exec: {
                    apiVersion,
                    command: BIN,
                    args: ["kube-credential", "kube"],
                    ...(apiVersion.endsWith("/v1") ? { interactiveMode: "Never" } : {}),
                    env: [{ name: "CRED_SOCK", value: box.socket }],
                  },
                },
              },
            ],
            contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
            "current-context": "x",
          }),
        );
        const proc = Bun.spawn([KUBECTL!, "--kubeconfig", kubeconfig, "get", "--raw", "/version"], {
          env: { ...box.env, HOME: box.root },
          stdout: "pipe",
          stderr: "pipe",
        });
        const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
        // Debian's kubectl (1.20) predates client.authentication.k8s.io/v1: it says so, and v1beta1 is what it uses.
        if (
          apiVersion.endsWith("/v1") &&
          code !== 0 &&
          /no kind "ExecCredential"|not registered|unsupported|invalid apiVersion/i.test(stderr)
        )
          continue;
        expect(stderr).toBe("");
        expect(code).toBe(0);
        expect(JSON.parse(stdout).gitVersion).toBe("v1.30.0-credagent-test");
      }
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((h) => h === "Bearer kube-token-1")).toBe(true);
    } finally {
      api.stop(true);
    }
    // The plugin's output as kubectl reads it, for each version; an unknown version is refused.
    const v1 = await box.run(["kube-credential", "kube"], {
      env: {
        KUBERNETES_EXEC_INFO: JSON.stringify({
          apiVersion: "client.authentication.k8s.io/v1",
          kind: "ExecCredential",
          spec: { interactive: false },
        }),
      },
    });
    expect(JSON.parse(v1.stdout)).toMatchObject({
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token: "kube-token-1", expirationTimestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) },
    });
    const alpha = await box.run(["kube-credential", "kube"], {
      env: { KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1alpha1" }) },
    });
    expect(alpha.code).toBe(2);
    expect(alpha.stderr).toContain("credagent speaks client.authentication.k8s.io/v1");
  },
  30_000,
);

test("a password and an AWS key are cached in the keyring with all their parts, and served after a restart", async () => {
  const before = JSON.parse((await box.run(["get", "aws", "--json"])).stdout);
  const pgBefore = JSON.parse((await box.run(["get", "pg", "--json"])).stdout);
  // The cache is written after the response: give it a moment.
  await Bun.sleep(500);
  expect((await box.run(["stop"])).code).toBe(0);
  await box.start();
  const after = JSON.parse((await box.run(["get", "aws", "--json"])).stdout);
  expect(after.aws).toEqual(before.aws);
  expect(after.expires_at).toBe(before.expires_at);
  const pgAfter = JSON.parse((await box.run(["get", "pg", "--json"])).stdout);
  expect(pgAfter).toMatchObject({ kind: "password", username: "app", password: pgBefore.password, expires_at: pgBefore.expires_at });
}, 30_000);
