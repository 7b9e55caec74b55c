import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { createRealm, kdcUnavailable, REALM, type Realm } from "../support/kdc.ts";
import { createNetns, netnsUnavailable, type NetNs } from "../support/netns.ts";
import { processesHolding, watchProcesses } from "../support/proc-scan.ts";
import type { CredentialSummary } from "../../src/wire/types.ts";
import { Sandbox, waitFor } from "./harness.ts";

// The kerberos source against a real MIT KDC (Debian's krb5-kdc) in a throwaway realm inside the
// test's own network namespace: a domain user's password is entered once (`credagent secret set`),
// and from then on the agent keeps a TGT in its own cache, renewing it while renewable and getting
// a new one from the password before it expires. Tickets last 6 s here so that several lifetimes
// fit in a short test.

const unavailable = netnsUnavailable() ?? kdcUnavailable();
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the Kerberos tests: ${unavailable}`);

const PASSWORD = `alice-${randomBytes(12).toString("hex")}`;
const LIFETIME_S = 6;
const RENEW_S = 15;

let ns: NetNs;
let realm: Realm;
let box: Sandbox;
const cacheDir = () => join(box.runtimeDir, "credagent", "krb5");
const cacheFile = (name: string) => join(cacheDir(), name);

beforeAll(async () => {
  if (unavailable) return;
  ns = createNetns("krb");
  realm = createRealm(ns);
  realm.addUser("alice", PASSWORD);
  realm.addUser("bob", "bobs-real-password");
  box = new Sandbox({ wrap: ns.wrap });
  realm.addService("svc/batch", join(box.root, "config", "credagent", "batch.keytab"));
  await realm.startKdc();
  // No krb5.conf of the test's: the agent finds the realm's KDC from its own config (the machine's
  // /etc/krb5.conf comes after, and names another realm).
  box.env.CREDAGENT_FILE_PASSPHRASE = "file-store-passphrase";
  box.writeConfig(
    [
      'keyring = "file"',
      "[credentials.corp]",
      'source = "kerberos"',
      'principal = "alice"',
      `realm = "${REALM}"`,
      `kdc = "${realm.kdc}"`,
      `ticket_lifetime = "${LIFETIME_S}s"`,
      `renew_lifetime = "${RENEW_S}s"`,
      "[credentials.bob]",
      'source = "kerberos"',
      `principal = "bob@${REALM}"`,
      'kdc = ["127.0.0.1"]',
      "[credentials.batch]",
      'source = "kerberos"',
      `principal = "svc/batch@${REALM}"`,
      'keytab = "batch.keytab"',
      `kdc = "${realm.kdc}"`,
      "",
    ].join("\n"),
  );
  await box.start();
}, 60_000);

afterAll(async () => {
  await box?.cleanup();
  realm?.remove();
  ns?.remove();
});

async function credential(name: string): Promise<CredentialSummary> {
  const r = await box.run(["list", "--json"]);
  const found = (JSON.parse(r.stdout) as CredentialSummary[]).find((c) => c.name === name);
  if (!found) throw new Error(`no credential ${name} in ${r.stdout}`);
  return found;
}

async function waitForState(name: string, states: string[], timeoutMs: number): Promise<CredentialSummary> {
  let last: CredentialSummary | undefined;
  await waitFor(
    async () => {
      last = await credential(name);
      return states.includes(last.state);
    },
    timeoutMs,
    `credential ${name} to be ${states.join(" or ")} (last: ${JSON.stringify(last)})`,
  );
  return last!;
}

/** klist -s: exit status 0 when the cache holds an unexpired ticket. */
function klistValid(file: string): boolean {
  return Bun.spawnSync(["klist", "-s", "-c", `FILE:${file}`], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", KRB5_CONFIG: realm.krb5Conf },
  }).success;
}

function kdcRequests(kind: "AS_REQ" | "TGS_REQ", client: string): number {
  return realm
    .kdcLog()
    .split("\n")
    .filter((l) => l.includes(kind) && l.includes("ISSUE") && l.includes(`${client}@${REALM} for krbtgt/${REALM}@${REALM}`)).length;
}

describe.skipIf(unavailable !== null)("kerberos credentials", () => {
  test("the password is entered once; while the agent logs in with it, no process has it in its argv or environment", async () => {
    // The scanner finds what it looks for: a process holding the password in its environment.
    const decoy = Bun.spawn(["sleep", "30"], { env: { DECOY: PASSWORD } });
    try {
      await waitFor(() => processesHolding(PASSWORD).some((s) => s.pid === decoy.pid), 5_000, "the scanner to see the decoy");
    } finally {
      decoy.kill();
      await decoy.exited;
    }
    const watch = watchProcesses(PASSWORD);
    const set = await box.run(["secret", "set", "corp", "--stdin"], { input: `${PASSWORD}\n` });
    expect(set.code).toBe(0);
    const fresh = await waitForState("corp", ["fresh"], 10_000);
    const { sightings, scans } = await watch.stop();
    expect(sightings).toEqual([]);
    expect(scans).toBeGreaterThan(5);
    expect(fresh.renew_until).toBeDefined();
    expect(kdcRequests("AS_REQ", "alice")).toBe(1);
    // The cache: 0600 in a 0700 directory, what `credagent get` names.
    expect((await box.run(["get", "corp"])).stdout.trim()).toBe(`FILE:${cacheFile("corp")}`);
    expect(statSync(cacheFile("corp")).mode & 0o777).toBe(0o600);
    expect(statSync(cacheDir()).mode & 0o777).toBe(0o700);
    expect(statSync(join(box.runtimeDir, "credagent")).mode & 0o777).toBe(0o700);
    const status = await box.run(["status"]);
    expect(status.stdout).toMatch(/corp\s+kerberos\s+fresh\s+in \d+s, renewable for \d+s/);
  });

  test("the ticket stays valid across three lifetimes with no prompt: renewed while renewable, then a new one from the password", async () => {
    const asBefore = kdcRequests("AS_REQ", "alice");
    const renewalsBefore = kdcRequests("TGS_REQ", "alice");
    const started = Date.now();
    const invalidAt: number[] = [];
    let checks = 0;
    while (Date.now() - started < 3.3 * LIFETIME_S * 1000) {
      if (!klistValid(cacheFile("corp"))) invalidAt.push(Date.now() - started);
      checks += 1;
      await Bun.sleep(200);
    }
    expect(invalidAt).toEqual([]);
    expect(checks).toBeGreaterThanOrEqual(20);
    // Each fetch either renewed (a TGS_REQ for krbtgt) or, near the renewal limit, got a new TGT (AS_REQ).
    const renewals = kdcRequests("TGS_REQ", "alice") - renewalsBefore;
    const fresh = kdcRequests("AS_REQ", "alice") - asBefore;
    console.log(`3.3 lifetimes of ${LIFETIME_S} s: ${renewals} renewals, ${fresh} new tickets from the password, ${checks} klist checks`);
    expect(renewals).toBeGreaterThanOrEqual(2);
    expect(fresh).toBeGreaterThanOrEqual(1);
    const klist = Bun.spawnSync(["klist", "-c", `FILE:${cacheFile("corp")}`]).stdout.toString();
    expect(klist).toContain(`Default principal: alice@${REALM}`);
    expect(klist).toContain(`krbtgt/${REALM}@${REALM}`);
    expect(klist).toContain("renew until");
  }, 40_000);

  test("a keytab gets a service account's ticket; exec --env KRB5CCNAME=NAME hands a program the cache", async () => {
    await waitForState("batch", ["fresh"], 10_000);
    const r = await box.run(["exec", "--env", "KRB5CCNAME=batch", "--", "sh", "-c", 'echo "$KRB5CCNAME"; klist']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`FILE:${cacheFile("batch")}\n`);
    expect(r.stdout).toContain(`Default principal: svc/batch@${REALM}`);
  });

  test("a password the KDC refuses: failing with why, and not tried again by itself (an account lockout)", async () => {
    expect((await box.run(["secret", "set", "bob", "--stdin"], { input: "not-bobs-password\n" })).code).toBe(0);
    const failing = await waitForState("bob", ["failing"], 10_000);
    expect(failing.last_error).toContain("the KDC refused the password");
    expect(failing.last_error).toContain("credagent secret set bob");
    const tries = realm
      .kdcLog()
      .split("\n")
      .filter((l) => l.includes(`bob@${REALM} for krbtgt`)).length;
    expect(tries).toBeGreaterThanOrEqual(1);
    await Bun.sleep(4_000);
    expect(
      realm
        .kdcLog()
        .split("\n")
        .filter((l) => l.includes(`bob@${REALM} for krbtgt`)).length,
    ).toBe(tries);
    // The right one, set: the agent retries at once.
    expect((await box.run(["secret", "set", "bob", "--stdin"], { input: "bobs-real-password\n" })).code).toBe(0);
    await waitForState("bob", ["fresh"], 10_000);
    expect(klistValid(cacheFile("bob"))).toBe(true);
  });

  test("a KDC that is down: stale with a clear message, failing once the ticket expires, and fresh again by itself", async () => {
    realm.stopKdc();
    try {
      const stale = await waitForState("corp", ["stale"], 2 * LIFETIME_S * 1000);
      expect(stale.last_error).toContain("Cannot contact any KDC");
      expect(stale.last_error).toContain("credagent keeps trying");
      const failing = await waitForState("corp", ["failing"], 2 * LIFETIME_S * 1000);
      expect(failing.last_error).toContain("Cannot contact any KDC");
    } finally {
      await realm.startKdc();
    }
    const startedAgain = Date.now();
    await waitForState("corp", ["fresh"], 30_000);
    console.log(`fresh again ${Date.now() - startedAgain} ms after the KDC came back`);
    expect(klistValid(cacheFile("corp"))).toBe(true);
  }, 60_000);

  test("lock removes the ticket caches; unlock brings new tickets; stop removes them", async () => {
    expect((await box.run(["lock", "--stdin"], { input: "lock-passphrase\n" })).code).toBe(0);
    expect(existsSync(cacheFile("corp"))).toBe(false);
    expect(existsSync(cacheFile("batch"))).toBe(false);
    expect((await box.run(["unlock", "--stdin"], { input: "lock-passphrase\n" })).code).toBe(0);
    await waitFor(() => klistValid(cacheFile("corp")) && klistValid(cacheFile("batch")), 10_000, "new tickets after unlock");
    expect((await box.run(["stop"])).code).toBe(0);
    expect(readdirSync(cacheDir())).toEqual([]);
  });
});
