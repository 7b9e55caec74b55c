import { describe, expect, test } from "bun:test";
import { socketPathCases } from "../../support/socket-path-vectors.ts";
import { join } from "node:path";
import { defaultSocketPath, sessionTokenFile } from "../../../clients/node/src/index.ts";

// The Node client finds the agent where the CLI does: the same table as test/unit/paths.test.ts
// and clients/python/test_credagent.py.
describe("@credagent/client: shared socket-path vectors", () => {
  test.each(socketPathCases.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const socket = defaultSocketPath(c.env, {
      platform: c.platform,
      uid: c.uid,
      username: () => c.username,
      isPrivateDir: (dir) => c.private_dirs.includes(dir),
    });
    expect(socket).toBe(c.socket);
    expect(sessionTokenFile(socket, c.env)).toBe(c.token_file);
  });
});

test("the Python client reads the same table (clients/python/test_credagent.py)", () => {
  const r = Bun.spawnSync(["python3", "-m", "unittest", "-v", "test_credagent"], {
    cwd: join(import.meta.dir, "../../../clients/python"),
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  const output = `${r.stdout}${r.stderr}`;
  expect(output).toContain("test_shared_vectors");
  expect(output).toMatch(/^OK$/m);
  expect(r.exitCode).toBe(0);
}, 20_000);
