import { afterAll, expect, test } from "bun:test";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { bindingHash, tlsServerEndPoint } from "../../../src/dbproxy/channel-binding.ts";
import { applicationName } from "../../../src/dbproxy/proxy.ts";
import { scramSha256 } from "../../../src/dbproxy/scram.ts";

const dir = mkdtempSync("/tmp/ca-cb-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate's DER, made by openssl with the key and digest given. */
function certificate(name: string, keyArgs: string[], digest: string | null): Uint8Array {
  const pem = join(dir, `${name}.crt`);
  const r = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      ...keyArgs,
      "-nodes",
      "-keyout",
      join(dir, `${name}.key`),
      "-out",
      pem,
      "-days",
      "1",
      "-subj",
      "/CN=t",
      ...(digest ? [`-${digest}`] : []),
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  return new X509Certificate(readFileSync(pem)).raw;
}

test.if(Bun.which("openssl") !== null)("the hash is the certificate signature's, SHA-256 for SHA-1; none for Ed25519 (as libpq)", () => {
  const rsa256 = certificate("rsa256", ["-newkey", "rsa:2048"], "sha256");
  expect(bindingHash(rsa256)).toBe("sha256");
  expect(Buffer.from(tlsServerEndPoint(rsa256))).toEqual(createHash("sha256").update(rsa256).digest());
  expect(bindingHash(certificate("rsa1", ["-newkey", "rsa:2048"], "sha1"))).toBe("sha256");
  const ec384 = certificate("ec384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], "sha384");
  expect(bindingHash(ec384)).toBe("sha384");
  expect(tlsServerEndPoint(ec384).length).toBe(48);
  const ed = certificate("ed", ["-newkey", "ed25519"], null);
  expect(bindingHash(ed)).toBeNull();
  expect(() => tlsServerEndPoint(ed)).toThrow(/names no hash/);
  expect(bindingHash(new Uint8Array([0x30, 0x05, 1]))).toBeNull();
});

test("SCRAM with channel binding: p=tls-server-end-point and the hash in c=; y,, when bindable but not offered", () => {
  const data = new Uint8Array([1, 2, 3]);
  const bound = scramSha256(new TextEncoder().encode("pw"), "abc", "", { kind: "tls-server-end-point", data });
  expect(bound.clientFirst).toBe("p=tls-server-end-point,,n=,r=abc");
  const final = bound.clientFinal("r=abcdef,s=AAAA,i=1");
  expect(
    final.startsWith(`c=${Buffer.concat([Buffer.from("p=tls-server-end-point,,"), Buffer.from(data)]).toString("base64")},r=abcdef,p=`),
  ).toBe(true);
  const notOffered = scramSha256(new TextEncoder().encode("pw"), "abc", "", { kind: "supported-not-offered" });
  expect(notOffered.clientFirst).toBe("y,,n=,r=abc");
  expect(notOffered.clientFinal("r=abcdef,s=AAAA,i=1").startsWith(`c=${Buffer.from("y,,").toString("base64")},`)).toBe(true);
});

test("application_name: credagent:<program>[<pid>], printable, within PostgreSQL's 63 bytes", () => {
  const peer = { pid: 4242, uid: 1000, gid: 1000 };
  expect(applicationName(peer, "/usr/bin/node")).toBe("credagent:node[4242]");
  expect(applicationName(peer, null)).toBe("credagent:unknown[4242]");
  expect(applicationName(peer, "/opt/prögram")).toBe("credagent:pr?gram[4242]");
  const long = applicationName(peer, `/x/${"a".repeat(100)}`);
  expect(long.length).toBe(63);
  expect(long.endsWith("a[4242]")).toBe(true);
});
