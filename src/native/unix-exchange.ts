// One request to a Unix socket and the whole answer, with blocking libc calls: socket, connect,
// send, recv, close. For `credagent get NAME` (cli/fast-get.ts), whose time is its start-up: an
// exchange through Bun.connect starts the event loop's socket machinery and costs more than the
// request itself (BENCHMARKS.md: the start-up table has both beside the runtime's floor).
//
// It imports nothing of ours, so that it stays in the CLI's entry chunk (see main.ts). Linux (glibc
// or musl) and macOS; elsewhere, or when the C library cannot be loaded, it answers "unavailable"
// and the caller takes its ordinary path.

export type ExchangeResult =
  /** Everything the peer sent before it closed; at least one byte. */
  | Uint8Array
  /** No connection, or one closed or reset before a single byte came back. */
  | "unconnected"
  /** The answer was not complete by the deadline. */
  | "timeout"
  | "unavailable";

interface Platform {
  libc: string[];
  errno: "__errno_location" | "__error";
  /** SOCK_STREAM, with SOCK_CLOEXEC where the OS has it. */
  stream: number;
  solSocket: number;
  soSndTimeo: number;
  soRcvTimeo: number;
  /** SO_NOSIGPIPE (macOS), or 0 where send takes MSG_NOSIGNAL instead. */
  soNoSigPipe: number;
  msgNoSignal: number;
  /** sockaddr_un: the path's offset and room (with its terminating NUL), and whether byte 0 is sun_len. */
  pathOffset: number;
  pathRoom: number;
  sunLen: boolean;
  EINTR: number;
  EAGAIN: number;
}

export const PLATFORMS: Partial<Record<NodeJS.Platform, Platform>> = {
  linux: {
    libc: ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"],
    errno: "__errno_location",
    stream: 1 | 0o2000000,
    solSocket: 1,
    soSndTimeo: 21,
    soRcvTimeo: 20,
    soNoSigPipe: 0,
    msgNoSignal: 0x4000,
    pathOffset: 2,
    pathRoom: 108,
    sunLen: false,
    EINTR: 4,
    EAGAIN: 11,
  },
  darwin: {
    libc: ["libSystem.B.dylib"],
    errno: "__error",
    stream: 1,
    solSocket: 0xffff,
    soSndTimeo: 0x1005,
    soRcvTimeo: 0x1006,
    soNoSigPipe: 0x1022,
    msgNoSignal: 0,
    pathOffset: 2,
    pathRoom: 104,
    sunLen: true,
    EINTR: 4,
    EAGAIN: 35,
  },
};

const AF_UNIX = 1;

export type Ffi = Pick<typeof import("bun:ffi"), "dlopen" | "ptr" | "read">;

/**
 * The FFI functions without the bun:ffi module: `Bun.FFI` is the native object that module wraps
 * (its dlopen only normalises the path and binds close), and loading the module's JS costs ~50 page
 * faults, a third of what `get` adds to the runtime's floor; `Bun.FFI` alone costs ~25. It is not
 * part of Bun's documented API, so its absence falls back to the module.
 */
export async function ffiFunctions(): Promise<Ffi> {
  const native = (Bun as unknown as { FFI?: Partial<Ffi> }).FFI;
  if (typeof native?.dlopen === "function" && typeof native.ptr === "function" && typeof native.read?.i32 === "function")
    return native as Ffi;
  return import("bun:ffi");
}

// bun:ffi's FFIType codes, as numbers: FFIType itself is in the module this file avoids loading.
const I32 = 5;
const U32 = 6;
const I64 = 7;
const U64 = 8;
const PTR = 12;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  connect(fd: number, addr: number, length: number): number;
  setsockopt(fd: number, level: number, option: number, value: number, length: number): number;
  send(fd: number, buffer: number, length: number, flags: number): number | bigint;
  recv(fd: number, buffer: number, length: number, flags: number): number | bigint;
  close(fd: number): number;
  /** The address of this thread's errno. */
  errno(): number;
}

function openLibc(ffi: Ffi, platform: Platform): Libc | null {
  const table = {
    socket: { args: [I32, I32, I32], returns: I32 },
    connect: { args: [I32, PTR, U32], returns: I32 },
    setsockopt: { args: [I32, I32, I32, PTR, U32], returns: I32 },
    send: { args: [I32, PTR, U64, I32], returns: I64 },
    recv: { args: [I32, PTR, U64, I32], returns: I64 },
    close: { args: [I32], returns: I32 },
    [platform.errno]: { args: [], returns: PTR },
  };
  for (const name of platform.libc) {
    try {
      const f = ffi.dlopen(name, table as never).symbols as unknown as Record<keyof Libc | Platform["errno"], (...args: number[]) => never>;
      return {
        socket: f.socket,
        connect: f.connect,
        setsockopt: f.setsockopt,
        send: f.send,
        recv: f.recv,
        close: f.close,
        errno: f[platform.errno],
      };
    } catch {
      // the next name
    }
  }
  return null;
}

/** The sockaddr_un for a path, or null when the path does not fit (the caller's ordinary path says so). */
export function sockaddrUn(path: string, platform: Pick<Platform, "pathOffset" | "pathRoom" | "sunLen">): Uint8Array | null {
  const addr = new Uint8Array(platform.pathOffset + platform.pathRoom);
  const { read, written } = new TextEncoder().encodeInto(path, addr.subarray(platform.pathOffset, addr.length - 1));
  if (written === 0 || read < path.length || path.includes("\0")) return null;
  // sun_family: one byte after sun_len on BSD; two bytes, little-endian, on Linux (every Linux
  // target Bun builds for is little-endian).
  if (platform.sunLen) addr[0] = platform.pathOffset + written + 1;
  addr[platform.sunLen ? 1 : 0] = AF_UNIX;
  return addr;
}

/**
 * Sends `request` on a new connection to the socket at `path` and returns all the peer sent until
 * it closed, within `timeoutMs` in all (connect included: a full backlog blocks connect too).
 */
export async function exchangeBlocking(path: string, request: Uint8Array, timeoutMs: number): Promise<ExchangeResult> {
  const platform = PLATFORMS[process.platform];
  if (!platform) return "unavailable";
  // Loaded here, not at the top: every other command (this file is in the entry chunk) would pay.
  const ffi = await ffiFunctions();
  const ptr = (view: Parameters<Ffi["ptr"]>[0], offset?: number) => Number(ffi.ptr(view, offset));
  const c = openLibc(ffi, platform);
  if (!c) return "unavailable";
  const addr = sockaddrUn(path, platform);
  if (!addr) return "unconnected";
  const errno = () => ffi.read.i32(c.errno() as never, 0);
  const deadline = Date.now() + timeoutMs;
  // struct timeval as two 64-bit fields, written as 32-bit halves (little-endian, see above).
  const timeval = new Uint32Array(4);
  // Arms the socket's send or receive timeout with what is left of the deadline; false once it is spent.
  const arm = (option: number): boolean => {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    timeval[0] = Math.floor(left / 1000);
    timeval[2] = (left % 1000) * 1000 || 1;
    return c.setsockopt(fd, platform.solSocket, option, ptr(timeval), 16) === 0;
  };

  const fd = c.socket(AF_UNIX, platform.stream, 0);
  if (fd < 0) return "unconnected";
  try {
    if (platform.soNoSigPipe) c.setsockopt(fd, platform.solSocket, platform.soNoSigPipe, ptr(new Int32Array([1])), 4);
    if (!arm(platform.soSndTimeo)) return "unconnected";
    for (;;) {
      if (c.connect(fd, ptr(addr), addr.length) === 0) break;
      const err = errno();
      if (err === platform.EINTR) continue;
      return err === platform.EAGAIN ? "timeout" : "unconnected";
    }
    // A failed send is not the end: an agent that refuses a connection writes why and closes,
    // perhaps before the request is in; what it wrote is still there to read.
    for (let sent = 0; sent < request.length; ) {
      const n = Number(c.send(fd, ptr(request, sent), request.length - sent, platform.msgNoSignal));
      if (n > 0) sent += n;
      else if (n < 0 && errno() === platform.EINTR) continue;
      else break;
    }
    let answer = new Uint8Array(16 * 1024);
    let length = 0;
    for (;;) {
      if (!arm(platform.soRcvTimeo)) return "timeout";
      if (length === answer.length) {
        const bigger = new Uint8Array(answer.length * 2);
        bigger.set(answer);
        answer = bigger;
      }
      const n = Number(c.recv(fd, ptr(answer, length), answer.length - length, 0));
      if (n > 0) {
        length += n;
        continue;
      }
      if (n < 0) {
        const err = errno();
        if (err === platform.EINTR) continue;
        if (err === platform.EAGAIN) return "timeout";
      }
      // End of the answer (0), or a reset: what came before it is the answer.
      break;
    }
    return length === 0 ? "unconnected" : answer.subarray(0, length);
  } finally {
    c.close(fd);
  }
}
