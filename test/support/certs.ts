import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// A throwaway CA and a server certificate it signs for 127.0.0.1, and a second CA that signed
// nothing of ours, for database servers under test (openssl, in a directory of their own).

export interface TestCerts {
  dir: string;
  caFile: string;
  wrongCaFile: string;
  certFile: string;
  keyFile: string;
  remove(): void;
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync("/tmp/ca-certs-");
  const openssl = (args: string[]) => {
    const r = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
  };
  for (const ca of ["ca", "wrong-ca"])
    openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.crt`,
      "-days",
      "2",
      "-subj",
      `/CN=credagent test ${ca}`,
    ]);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  ]);
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    wrongCaFile: join(dir, "wrong-ca.crt"),
    certFile: join(dir, "server.crt"),
    keyFile: join(dir, "server.key"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
