import { expect, test } from "bun:test";
import { RefusedPasswords } from "../../../src/dbproxy/refused.ts";
import { ServerRefused } from "../../../src/dbproxy/upstream.ts";
import { Secret } from "../../../src/secret.ts";

test("a refused password is held for its endpoint until the credential gives another or the hold ends", () => {
  let now = 0;
  const refused = new RefusedPasswords(() => now);
  refused.remember("ldapdb", new Secret("wrong"));
  expect(refused.refused("ldapdb", new Secret("wrong"))).toBe(true);
  expect(refused.refused("ldapdb", new Secret("right"))).toBe(false);
  expect(refused.refused("otherdb", new Secret("wrong"))).toBe(false);
  now += RefusedPasswords.holdMinutes * 60_000;
  expect(refused.refused("ldapdb", new Secret("wrong"))).toBe(false);
});

test("a password refusal is class 28 after the password was sent: 28P01 (PostgreSQL's own check) or 28000 (ldap, pam, radius)", () => {
  const frame = Buffer.alloc(0);
  expect(new ServerRefused(frame, "28P01", "x", true).passwordRefused).toBe(true);
  expect(new ServerRefused(frame, "28000", "x", true).passwordRefused).toBe(true);
  // Before any password (no pg_hba entry, a host rejected): not the password's fault.
  expect(new ServerRefused(frame, "28000", "x", false).passwordRefused).toBe(false);
  expect(new ServerRefused(frame, "3D000", "x", true).passwordRefused).toBe(false);
});
