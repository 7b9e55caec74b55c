import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { createRealm, kdcUnavailable, REALM, type Realm } from "../support/kdc.ts";
import { scanMemory } from "../support/scan-memory.ts";
import { createNetns, netnsUnavailable, type NetNs } from "../support/netns.ts";
import { Sandbox, waitFor } from "./harness.ts";

// HTTP's Negotiate with the agent's ticket: `credagent get NAME --negotiate URL` prints the value of
// an Authorization header for tools that cannot do SPNEGO, and curl --negotiate with KRB5CCNAME from
// `credagent env` does it itself. The service is MIT GSS-API's acceptor (Debian's python3-gssapi,
// test/support/negotiate-server.py) with its keytab; the KDC, the service and the agent are in the
// test's own network namespace.

const GSSAPI_PY = existsSync("/usr/lib/python3/dist-packages/gssapi");
const unavailable =
  netnsUnavailable() ??
  kdcUnavailable() ??
  (GSSAPI_PY ? null : "Debian's python3-gssapi is missing (apt-get install python3-gssapi)") ??
  (Bun.which("curl") ? null : "curl is missing");
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the Negotiate tests: ${unavailable}`);

const SERVER = resolve(import.meta.dir, "../support/negotiate-server.py");
const URL = "http://localhost:8080/";
let ns: NetNs;
let realm: Realm;
let box: Sandbox;
let service: ReturnType<typeof Bun.spawn> | undefined;
let agentPid: number;

beforeAll(async () => {
  if (unavailable) return;
  ns = createNetns("nego");
  realm = createRealm(ns);
  realm.addUser("alice", "alices-domain-password");
  const keytab = join(realm.dir, "http.keytab");
  realm.addService("HTTP/localhost", keytab);
  await realm.startKdc();
  const replayCache = join(realm.dir, "rcache");
  mkdirSync(replayCache);
  service = Bun.spawn(ns.wrap(["/usr/bin/python3", SERVER, "8080"]), {
    env: { PATH: "/usr/bin:/bin", KRB5_KTNAME: keytab, KRB5_CONFIG: realm.krb5Conf, KRB5RCACHEDIR: replayCache },
    stdout: "ignore",
    stderr: "pipe",
  });
  await waitFor(() => curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", URL]).stdout === "401", 10_000, "the service to answer");
  box = new Sandbox({ wrap: ns.wrap });
  box.env.CREDAGENT_FILE_PASSPHRASE = "file-store-passphrase";
  box.writeConfig(
    [
      'keyring = "file"',
      `[credentials.corp]\nsource = "kerberos"\nprincipal = "alice@${REALM}"\nkdc = "${realm.kdc}"\n`,
      `[credentials.pw]\nsource = "static"\nusername = "alice"\n`,
    ].join("\n"),
  );
  agentPid = await box.start();
  expect((await box.run(["secret", "set", "corp", "--stdin"], { input: "alices-domain-password\n" })).code).toBe(0);
}, 60_000);

afterAll(async () => {
  service?.kill("SIGKILL");
  await box?.cleanup();
  realm?.remove();
  ns?.remove();
});

/** curl inside the namespace, with no Kerberos of its own unless `env` gives it. */
function curl(args: string[], env: Record<string, string> = {}) {
  const r = Bun.spawnSync(ns.wrap(["curl", "--max-time", "10", ...args]), {
    env: { PATH: "/usr/bin:/bin", KRB5CCNAME: "FILE:/nonexistent/krb5cc", KRB5_CONFIG: "/nonexistent/krb5.conf", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe.skipIf(unavailable !== null)("Negotiate for HTTP services", () => {
  test("get --negotiate URL prints an Authorization value that a tool sends as it is", async () => {
    const r = await box.run(["get", "corp", "--negotiate", URL]);
    expect(r.stderr).toBe("");
    const header = r.stdout.trim();
    expect(header).toMatch(/^Negotiate [A-Za-z0-9+/]+=*$/);
    const answer = curl(["-s", "-w", " %{http_code}", "-H", `Authorization: ${header}`, URL]);
    expect(answer.stdout).toBe(`hello alice@${REALM}\n 200`);
    // Without it, the service asks for one.
    expect(curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", URL]).stdout).toBe("401");
    const json = JSON.parse((await box.run(["get", "corp", "--negotiate", URL, "--json"])).stdout);
    expect(json.service).toBe(`HTTP/localhost@${REALM}`);
    // The agent wrote each header into bytes it zeroed once sent: no copy stays in its memory (a
    // base64 string of the token did, until collected and overwritten, 2 of 2 values before).
    const middles = [header, json.authorization as string].map((h) => h.slice(h.length / 2 - 16, h.length / 2 + 16));
    const found = scanMemory(agentPid, ...middles);
    for (const middle of middles) expect(found[middle]).toEqual([]);
  });

  test("curl --negotiate with KRB5CCNAME from credagent env does the exchange itself with the agent's ticket", async () => {
    const env = await box.run(["env", "-s"]);
    const ccname = /KRB5CCNAME=([^;]+);/.exec(env.stdout)?.[1];
    expect(ccname).toBeDefined();
    const answer = curl(["-s", "-w", " %{http_code}", "--negotiate", "-u", ":", URL], { KRB5CCNAME: ccname!, KRB5_CONFIG: realm.krb5Conf });
    expect(answer.stdout).toBe(`hello alice@${REALM}\n 200`);
  });

  test("a credential that is no Kerberos ticket, a service the KDC does not know, a URL that is not http: told why", async () => {
    const notKerberos = await box.run(["get", "pw", "--negotiate", URL]);
    expect(notKerberos.code).not.toBe(0);
    expect(notKerberos.stderr).toContain("not a kerberos credential");
    const unknown = await box.run(["get", "corp", "--negotiate", "https://elsewhere.corp.example/"]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("HTTP/elsewhere.corp.example");
    const notHttp = await box.run(["get", "corp", "--negotiate", "ftp://localhost/"]);
    expect(notHttp.stderr).toContain("not an http(s) URL");
  });
});
