import { describe, expect, test } from "bun:test";
import { FFIType } from "bun:ffi";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { darwinSymbols } from "../../../src/native/libc.ts";
import { LAUNCHD_SOCKET_ENV, LAUNCHD_SOCKET_NAME } from "../../../src/platform/launchd.ts";
import { parseSockaddrUn, takeActivation, takeLaunchdActivation, unixSocketPath } from "../../../src/transport/activation.ts";

describe("socket activation", () => {
  test("systemd: LISTEN_* for this pid only, removed either way", () => {
    const env: Record<string, string | undefined> = { LISTEN_PID: "999999", LISTEN_FDS: "1", LISTEN_FDNAMES: "x" };
    expect(takeActivation(env, 1)).toBeNull();
    expect(env).toEqual({});
    expect(takeActivation({}, 1)).toBeNull();
    expect(() => takeActivation({ LISTEN_PID: "1", LISTEN_FDS: "2" }, 1)).toThrow(/single ListenStream/);
  });

  test("launchd: the socket named by the plist's variable, taken once; the variable removed; not launchd, null", () => {
    const asked: string[] = [];
    const env: Record<string, string | undefined> = { [LAUNCHD_SOCKET_ENV]: LAUNCHD_SOCKET_NAME, HOME: "/h" };
    const activation = takeLaunchdActivation(
      env,
      (name) => (asked.push(name), [7]),
      (fd) => `/private/tmp/com.apple.launchd.x/sock-${fd}`,
    );
    expect(activation).toEqual({ fd: 7, path: "/private/tmp/com.apple.launchd.x/sock-7" });
    expect(asked).toEqual([LAUNCHD_SOCKET_NAME]);
    expect(env).toEqual({ HOME: "/h" });
    expect(
      takeLaunchdActivation({}, () => {
        throw new Error("not called");
      }),
    ).toBeNull();
    expect(() => takeLaunchdActivation({ [LAUNCHD_SOCKET_ENV]: "L" }, () => [3, 4])).toThrow(/2 sockets/);
    expect(() => takeLaunchdActivation({ [LAUNCHD_SOCKET_ENV]: "L" }, () => [])).toThrow(/0 sockets/);
  });

  test("launch_activate_socket is declared as launch.h has it: (const char *, int **, size_t *) -> int", () => {
    expect(darwinSymbols.launch_activate_socket).toEqual({ args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 });
    expect(darwinSymbols.free).toEqual({ args: [FFIType.ptr], returns: FFIType.void });
  });

  test("sockaddr_un: Linux's 2-byte family, the BSD length and family bytes", () => {
    const path = "/run/user/1/cred.sock";
    const linux = new Uint8Array(110);
    linux.set([1, 0], 0);
    linux.set(new TextEncoder().encode(path), 2);
    expect(parseSockaddrUn(linux, 2 + path.length + 1, "linux")).toEqual({ family: 1, path });
    const bsd = new Uint8Array(106);
    bsd.set([2 + path.length + 1, 1], 0);
    bsd.set(new TextEncoder().encode(path), 2);
    expect(parseSockaddrUn(bsd, bsd[0]!, "darwin")).toEqual({ family: 1, path });
    // Read as Linux, a BSD address has another family: why the layout matters.
    expect(parseSockaddrUn(bsd, bsd[0]!, "linux").family).not.toBe(1);
  });

  test("getsockname on a real listening socket gives its path; a descriptor that is not a socket is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ca-act-"));
    const server = net.createServer();
    try {
      const path = join(dir, "s.sock");
      await new Promise<void>((resolve) => server.listen(path, resolve));
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      expect(fd).toBeGreaterThan(2);
      expect(unixSocketPath(fd)).toBe(path);
      expect(() => unixSocketPath(0)).toThrow(/not a socket|family/);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
