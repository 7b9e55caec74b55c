import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Kdc, KdcCall } from "../../../src/kerberos/kdc.ts";
import { KRB5, Krb5Error, type TicketTimes } from "../../../src/native/krb5.ts";
import { Secret } from "../../../src/secret.ts";
import { kerberosSource, withRealm, worthRenewing } from "../../../src/sources/kerberos.ts";
import { CannotHealError } from "../../../src/sources/source.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import { secretAccount } from "../../../src/store/store.ts";

// The kerberos source's decisions (renew or a new ticket, which failures wait for a person) with a
// fake KDC that writes its "tickets" as files where the real one writes caches.

const NOW = Date.UTC(2026, 0, 1, 12);
const S = 1000;

function ticket(start: number, life: number, renewTill: number | null): TicketTimes {
  return { client: "alice@CORP.EXAMPLE", server: "krbtgt/CORP.EXAMPLE@CORP.EXAMPLE", startTime: start, endTime: start + life, renewTill };
}

class FakeKdc implements Kdc {
  calls: string[] = [];
  held: TicketTimes | null = null;
  passwords: string[] = [];
  next: { acquire?: TicketTimes | Error; renew?: TicketTimes | Error } = {};

  #write(into: string, times: TicketTimes): TicketTimes {
    writeFileSync(into.replace(/^FILE:/, ""), JSON.stringify(times));
    return times;
  }
  async acquire(r: KdcCall<"acquire">): Promise<TicketTimes> {
    this.calls.push(r.keytab ? `acquire keytab ${r.keytab}` : "acquire password");
    if (r.password) this.passwords.push(Buffer.from(r.password).toString("latin1"));
    const next = this.next.acquire ?? ticket(NOW, 3600 * S, NOW + 86400 * S);
    if (next instanceof Error) throw next;
    return this.#write(r.into, next);
  }
  async renew(r: KdcCall<"renew">): Promise<TicketTimes> {
    this.calls.push("renew");
    const next = this.next.renew ?? ticket(NOW, 3600 * S, NOW + 86400 * S);
    if (next instanceof Error) throw next;
    return this.#write(r.into, next);
  }
  async serviceTicket(): Promise<TicketTimes> {
    throw new Error("not used");
  }
  async tgt(): Promise<TicketTimes | null> {
    return this.held;
  }
  async destroy(): Promise<void> {}
}

let dir: string;
let kdc: FakeKdc;
let store: MemoryStore;
const ctx = () => ({ signal: new AbortController().signal, now: NOW });

function source(extra: Partial<Parameters<typeof kerberosSource>[0]> = {}) {
  return kerberosSource({
    name: "corp",
    principal: "alice",
    realm: "CORP.EXAMPLE",
    cacheDir: join(dir, "credagent", "krb5"),
    env: { KRB5_CONFIG: "/etc/test-krb5.conf" },
    store,
    kdcClient: kdc,
    ...extra,
  });
}

beforeEach(async () => {
  dir = mkdtempSync("/tmp/ca-unit-krb-");
  kdc = new FakeKdc();
  store = new MemoryStore();
  await store.set(secretAccount("corp"), new Secret("correct horse"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("kerberos source", () => {
  test("a first fetch gets a ticket with the stored password (NUL-terminated) into a private cache that KRB5CCNAME names", async () => {
    const token = await source({ kdc: ["dc1.corp.example:88"] }).fetchToken(ctx());
    expect(kdc.calls).toEqual(["acquire password"]);
    expect(kdc.passwords).toEqual(["correct horse\0"]);
    const file = join(dir, "credagent", "krb5", "corp");
    expect(token.kind).toBe("kerberos");
    expect(token.value.reveal()).toBe(`FILE:${file}`);
    expect(token.username).toBe("alice@CORP.EXAMPLE");
    expect(token.expiresAt).toBe(NOW + 3600 * S);
    expect(token.kerberos?.renewUntil).toBe(NOW + 86400 * S);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "credagent", "krb5")).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "credagent")).mode & 0o777).toBe(0o700);
    // The realm and kdc settings come first, then the user's krb5.conf.
    const own = join(dir, "credagent", "krb5", "corp.krb5.conf");
    expect(token.kerberos?.profile).toBe(`${own}:/etc/test-krb5.conf`);
    expect(readFileSync(own, "utf8")).toContain("kdc = dc1.corp.example:88");
    expect(readFileSync(own, "utf8")).toContain("default_realm = CORP.EXAMPLE");
  });

  test("a ticket renewable for at least half a lifetime more is renewed; nearer its limit a new one is got", async () => {
    kdc.held = ticket(NOW - 50 * 60 * S, 3600 * S, NOW + 40 * 60 * S);
    await source().fetchToken(ctx());
    expect(kdc.calls).toEqual(["renew"]);
    kdc.calls = [];
    kdc.held = ticket(NOW - 50 * 60 * S, 3600 * S, NOW + 20 * 60 * S);
    await source().fetchToken(ctx());
    expect(kdc.calls).toEqual(["acquire password"]);
  });

  test("an expired, unrenewable or someone else's ticket is not renewed", async () => {
    for (const held of [
      ticket(NOW - 2 * 3600 * S, 3600 * S, NOW + 86400 * S),
      ticket(NOW - 50 * 60 * S, 3600 * S, null),
      { ...ticket(NOW - 50 * 60 * S, 3600 * S, NOW + 86400 * S), client: "bob@CORP.EXAMPLE" },
    ]) {
      kdc.calls = [];
      kdc.held = held;
      await source().fetchToken(ctx());
      expect(kdc.calls).toEqual(["acquire password"]);
    }
  });

  test("a renewal the KDC refuses falls back to the password; an unreachable KDC does not try the password", async () => {
    kdc.held = ticket(NOW - 50 * 60 * S, 3600 * S, NOW + 86400 * S);
    kdc.next.renew = new Krb5Error(KRB5.POLICY, "the KDC did not renew the ticket: KDC policy rejects request");
    await source().fetchToken(ctx());
    expect(kdc.calls).toEqual(["renew", "acquire password"]);
    kdc.calls = [];
    kdc.next.renew = new Krb5Error(KRB5.KDC_UNREACH, "the KDC did not renew the ticket: Cannot contact any KDC for realm 'CORP.EXAMPLE'");
    const err = await source()
      .fetchToken(ctx())
      .catch((e) => e);
    expect(kdc.calls).toEqual(["renew"]);
    expect(err).not.toBeInstanceOf(CannotHealError);
    expect(err.message).toContain("credagent keeps trying");
  });

  test("a refused password, an expired one, an unknown principal wait for a person (no retries that could lock the account)", async () => {
    for (const [code, words] of [
      [KRB5.PREAUTH_FAILED, "the KDC refused the password: set the right one with 'credagent secret set corp'"],
      [KRB5.KEY_EXP, "the password has expired"],
      [KRB5.C_PRINCIPAL_UNKNOWN, 'check principal = "alice@CORP.EXAMPLE"'],
      [KRB5.CLIENT_REVOKED, "disabled or locked out"],
    ] as const) {
      kdc.next.acquire = new Krb5Error(code, "the KDC gave no ticket for alice@CORP.EXAMPLE: reason");
      const err = await source()
        .fetchToken(ctx())
        .catch((e) => e);
      expect(err).toBeInstanceOf(CannotHealError);
      expect(err.message).toContain(words);
    }
  });

  test("no password stored: a person must set one; but a ticket still renewable is renewed meanwhile", async () => {
    await store.delete(secretAccount("corp"));
    const err = await source()
      .fetchToken(ctx())
      .catch((e) => e);
    expect(err).toBeInstanceOf(CannotHealError);
    expect(err.message).toContain("credagent secret set corp");
    kdc.held = ticket(NOW - 50 * 60 * S, 3600 * S, NOW + 20 * 60 * S);
    await source().fetchToken(ctx());
    expect(kdc.calls).toEqual(["renew"]);
  });

  test("a keytab replaces the password", async () => {
    await source({ keytab: "/etc/batch.keytab" }).fetchToken(ctx());
    expect(kdc.calls).toEqual(["acquire keytab /etc/batch.keytab"]);
    expect(kdc.passwords).toEqual([]);
  });

  test("discard removes the cache this source wrote, not one a newer source of the same name wrote since", async () => {
    const file = join(dir, "credagent", "krb5", "corp");
    const first = source();
    await first.fetchToken(ctx());
    first.discard?.();
    expect(existsSync(file)).toBe(false);
    const old = source();
    await old.fetchToken(ctx());
    const newer = source();
    await newer.fetchToken(ctx());
    old.discard?.();
    expect(existsSync(file)).toBe(true);
    newer.discard?.();
    expect(existsSync(file)).toBe(false);
  });

  test("a fetch aborted meanwhile (lock) puts no cache in place", async () => {
    const abort = new AbortController();
    const slow = Object.create(kdc) as FakeKdc;
    slow.acquire = async (r) => {
      abort.abort(new Error("locked"));
      return kdc.acquire(r);
    };
    await expect(source({ kdcClient: slow }).fetchToken({ signal: abort.signal, now: NOW })).rejects.toThrow("locked");
    expect(existsSync(join(dir, "credagent", "krb5", "corp"))).toBe(false);
  });

  test("withRealm and worthRenewing", () => {
    expect(withRealm("alice", "CORP.EXAMPLE")).toBe("alice@CORP.EXAMPLE");
    expect(withRealm("alice@OTHER", "CORP.EXAMPLE")).toBe("alice@OTHER");
    expect(withRealm("a\\@b", "R")).toBe("a\\@b@R");
    expect(withRealm("alice", undefined)).toBe("alice");
    expect(worthRenewing(ticket(NOW, 10 * S, NOW + 5 * S), NOW)).toBe(true);
    expect(worthRenewing(ticket(NOW, 10 * S, NOW + 4 * S), NOW)).toBe(false);
    expect(worthRenewing(ticket(NOW, 10 * S, null), NOW)).toBe(false);
  });
});
