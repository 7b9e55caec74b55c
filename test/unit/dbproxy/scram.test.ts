import { expect, test } from "bun:test";
import { scramSha256 } from "../../../src/dbproxy/scram.ts";

// RFC 7677 section 3: user "user", password "pencil" (PostgreSQL sends an empty username instead).
test("RFC 7677's SCRAM-SHA-256 test vector", () => {
  const nonce = "rOprNGfwEbeRWgbNEkqO";
  const serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
  const exchange = scramSha256(new TextEncoder().encode("pencil"), nonce, "user");
  expect(exchange.clientFirst).toBe("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  expect(exchange.clientFinal(serverFirst)).toBe(
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  );
  expect(() => exchange.verifyServerFinal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")).not.toThrow();
});

test("a server that does not know the password is caught by its signature", () => {
  const nonce = "rOprNGfwEbeRWgbNEkqO";
  const serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
  const exchange = scramSha256(new TextEncoder().encode("pencil"), nonce, "user");
  exchange.clientFinal(serverFirst);
  expect(() => exchange.verifyServerFinal("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")).toThrow(/signature is wrong/);
  expect(() => scramSha256(new Uint8Array([1]), nonce).clientFinal("r=someoneelse,s=AA==,i=1")).toThrow(/nonce/);
});
