import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { freePort } from "./ports.ts";

// A private npm registry for the kept .npmrc test: verdaccio (npm `verdaccio`, a devDependency, run
// under Node) on 127.0.0.1 with no uplink, where every package needs a logged-in user and the API
// tokens it issues are JWTs that expire after `tokenLifetime` (its security.api.jwt setting), so an
// .npmrc holding an old token stops working as it would against a real registry. Its storage and
// user file live in a throwaway directory; stop() ends it by its pid and removes that directory.

export interface Verdaccio {
  /** http://127.0.0.1:PORT/ */
  readonly url: string;
  readonly host: string;
  /** The PUT that creates the user (or, with its Basic auth, logs it in again) and answers a token. */
  loginUrl(user: string): string;
  stop(): void;
}

const BIN = resolve(import.meta.dir, "../../node_modules/verdaccio/bin/verdaccio");
const running = new Set<Verdaccio>();
process.on("exit", () => {
  for (const server of running) server.stop();
});

export async function startVerdaccio(tokenLifetime: string): Promise<Verdaccio> {
  // In the run's own directory (test/run.sh): its leftover check then knows this server as the run's.
  const root = mkdtempSync(join(process.env.CREDAGENT_TEST_RUN_DIR ?? "/tmp", "ca-npm-"));
  const port = await freePort();
  const config = join(root, "config.yaml");
  writeFileSync(
    config,
    [
      `storage: ${join(root, "storage")}`,
      "auth:",
      "  htpasswd:",
      `    file: ${join(root, "htpasswd")}`,
      "    max_users: 10",
      "security:",
      "  api:",
      "    jwt:",
      "      sign:",
      `        expiresIn: ${tokenLifetime}`,
      "uplinks: {}",
      "packages:",
      "  '**':",
      "    access: $authenticated",
      "    publish: $authenticated",
      "log: { type: stdout, format: pretty, level: warn }",
      "",
    ].join("\n"),
  );
  const proc = Bun.spawn(["node", BIN, "--config", config, "--listen", `127.0.0.1:${port}`], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: root },
    stdout: "ignore",
    stderr: "ignore",
  });
  const url = `http://127.0.0.1:${port}/`;
  const server: Verdaccio = {
    url,
    host: `127.0.0.1:${port}`,
    loginUrl: (user) => `${url}-/user/org.couchdb.user:${encodeURIComponent(user)}`,
    stop() {
      running.delete(server);
      proc.kill("SIGKILL");
      rmSync(root, { recursive: true, force: true });
    },
  };
  running.add(server);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${url}-/ping`, { signal: AbortSignal.timeout(1_000) });
      if (res.ok) return server;
    } catch {}
    if (proc.exitCode !== null || Date.now() > deadline) {
      server.stop();
      throw new Error(`verdaccio did not answer on ${url} (exit ${proc.exitCode})`);
    }
    await Bun.sleep(100);
  }
}
