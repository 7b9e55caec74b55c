import { expect, test } from "bun:test";
import { MALLOC_TUNABLE, tcacheOff, withAgentMallocTunables } from "../../../src/platform/malloc-tunables.ts";
import { systemdServiceUnit } from "../../../src/platform/systemd.ts";

test("the agent is started with glibc's thread cache off on Linux, keeping the user's own tunables", () => {
  expect(withAgentMallocTunables({ PATH: "/bin" }, "linux")).toEqual({ PATH: "/bin", GLIBC_TUNABLES: MALLOC_TUNABLE });
  expect(withAgentMallocTunables({ GLIBC_TUNABLES: "glibc.malloc.arena_max=2" }, "linux").GLIBC_TUNABLES).toBe(
    `glibc.malloc.arena_max=2:${MALLOC_TUNABLE}`,
  );
  // A tcache_count of the user's is overridden (the later setting wins); one already off is left alone.
  const overridden = withAgentMallocTunables({ GLIBC_TUNABLES: "glibc.malloc.tcache_count=7" }, "linux").GLIBC_TUNABLES;
  expect(tcacheOff(overridden)).toBe(true);
  expect(withAgentMallocTunables({ GLIBC_TUNABLES: MALLOC_TUNABLE }, "linux").GLIBC_TUNABLES).toBe(MALLOC_TUNABLE);
  expect(tcacheOff(`${MALLOC_TUNABLE}:glibc.malloc.tcache_count=7`)).toBe(false);
  expect(withAgentMallocTunables({ PATH: "/bin" }, "darwin")).toEqual({ PATH: "/bin" });
  expect(systemdServiceUnit("/usr/bin/credagent")).toContain(`\nEnvironment=GLIBC_TUNABLES=${MALLOC_TUNABLE}\n`);
});
