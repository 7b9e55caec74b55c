import { posix, win32 } from "node:path";
import { CredagentError } from "./errors.ts";

// Where things live, as pure functions of the environment, so every platform's answer is
// unit-tested on this one.

export interface PathEnv {
  env: Record<string, string | undefined>;
  platform: NodeJS.Platform;
  uid: number;
  home: string;
  username: string;
  /**
   * Whether a directory exists, is a directory (not a link) owned by this user, and has no group or
   * other bits: the test `/run/user/$UID` must pass to hold the socket. Absent: no such directory.
   */
  isPrivateDir?: (dir: string) => boolean;
}

export const SOCKET_NAME = "cred.sock";

/** Paths joined as the platform named writes them (tests compute every platform's on this one). */
const joinFor = (p: PathEnv) => (p.platform === "win32" ? win32.join : posix.join);

/** The user name pipe names are made from: $USER, else $USERNAME (Windows), else the OS's. */
export function resolveUsername(env: Record<string, string | undefined>, osUsername: () => string): string {
  return env.USER || env.USERNAME || osUsername();
}

/**
 * $XDG_RUNTIME_DIR/cred.sock, else /run/user/$UID/cred.sock when that is the user's private
 * directory (cron, `sudo -u` and some SSH sessions lack the variable but share the session's
 * runtime directory, so they find the session's agent), else a private
 * ${TMPDIR:-/tmp}/credagent-$UID/, or a named pipe.
 */
export function defaultSocketPath(p: PathEnv): string {
  if (p.platform === "win32") return windowsPipeName(p.username);
  const join = joinFor(p);
  const runtime = p.env.XDG_RUNTIME_DIR;
  if (runtime && runtime.startsWith("/")) return join(runtime, SOCKET_NAME);
  const session = `/run/user/${p.uid}`;
  if (p.platform === "linux" && p.uid >= 0 && p.isPrivateDir?.(session)) return join(session, SOCKET_NAME);
  const tmp = p.env.TMPDIR && p.env.TMPDIR.startsWith("/") ? p.env.TMPDIR : "/tmp";
  return join(tmp, `credagent-${p.uid}`, SOCKET_NAME);
}

/** The socket the client talks to: $CRED_SOCK, else the default. */
export function clientSocketPath(p: PathEnv): string {
  return p.env.CRED_SOCK || defaultSocketPath(p);
}

export function windowsPipeName(username: string): string {
  // Pipe names may not hold a backslash; a domain user "CORP\alice" becomes "CORP-alice".
  const safe = username.replace(/[\\/:*?"<>|\s]+/g, "-") || "user";
  return `\\\\.\\pipe\\credagent-${safe}`;
}

export function isWindowsPipe(path: string): boolean {
  return /^\\\\[.?]\\pipe\\/i.test(path);
}

function xdgDir(p: PathEnv, variable: string, fallback: string): string {
  const value = p.env[variable];
  return value && value.startsWith("/") ? value : joinFor(p)(p.home, fallback);
}

/** --config, else $CREDAGENT_CONFIG, else $XDG_CONFIG_HOME/credagent/config.toml. */
export function configPath(p: PathEnv, flag?: string): { path: string; explicit: boolean } {
  if (flag) return { path: flag, explicit: true };
  if (p.env.CREDAGENT_CONFIG) return { path: p.env.CREDAGENT_CONFIG, explicit: true };
  const join = joinFor(p);
  if (p.platform === "win32" && p.env.APPDATA) return { path: join(p.env.APPDATA, "credagent", "config.toml"), explicit: false };
  return { path: join(xdgDir(p, "XDG_CONFIG_HOME", ".config"), "credagent", "config.toml"), explicit: false };
}

/** The session token's file: beside the socket, or for a named pipe in the user's state directory. */
export function sessionTokenPath(socketPath: string, p: PathEnv): string {
  if (isWindowsPipe(socketPath)) return joinFor(p)(stateDir(p), `${pipeLeaf(socketPath)}.token`);
  return `${socketPath}.token`;
}

/** A named pipe's single-instance lock file, in the user's state directory (a pipe has no directory). */
export function pipeLockPath(pipe: string, p: PathEnv): string {
  return joinFor(p)(stateDir(p), `${pipeLeaf(pipe)}.lock`);
}

/** `\\.\pipe\credagent-alice` is `credagent-alice`: one agent's files per pipe name. */
function pipeLeaf(pipe: string): string {
  return pipe.replace(/^\\\\[.?]\\pipe\\/i, "").replace(/[\\/:*?"<>|]/g, "-");
}

/** $XDG_DATA_HOME/credagent/store: the encrypted file store. */
export function fileStoreDir(p: PathEnv): string {
  const join = joinFor(p);
  if (p.platform === "win32" && p.env.LOCALAPPDATA) return join(p.env.LOCALAPPDATA, "credagent", "store");
  return join(xdgDir(p, "XDG_DATA_HOME", ".local/share"), "credagent", "store");
}

/** $XDG_STATE_HOME/credagent: the agent's log. */
export function stateDir(p: PathEnv): string {
  const join = joinFor(p);
  if (p.platform === "win32" && p.env.LOCALAPPDATA) return join(p.env.LOCALAPPDATA, "credagent");
  return join(xdgDir(p, "XDG_STATE_HOME", ".local/state"), "credagent");
}

// sun_path is 108 bytes on Linux and 104 on macOS and the BSDs, with the terminating NUL.
const SUN_PATH_MAX: Partial<Record<NodeJS.Platform, number>> = { linux: 107, darwin: 103, freebsd: 103, openbsd: 103 };

export function assertSocketPathLength(path: string, platform: NodeJS.Platform): void {
  const max = SUN_PATH_MAX[platform];
  if (max === undefined || isWindowsPipe(path)) return;
  const bytes = Buffer.byteLength(path);
  if (bytes > max) {
    throw new CredagentError(
      "unsafe_path",
      `the socket path ${path} is ${bytes} bytes, longer than the ${max} a Unix socket allows; ` +
        `choose a shorter one with -a, or set XDG_RUNTIME_DIR or TMPDIR to a shorter directory`,
    );
  }
}

// node:os and node:fs are loaded only when a path needs them (the home directory, a user name
// with no USER, the /run/user check): `credagent get` with XDG_RUNTIME_DIR set needs neither, and
// loading them costs every start ~200 page faults.
export function currentPathEnv(): PathEnv {
  const uid = process.getuid?.() ?? 0;
  let home: string | undefined;
  let username: string | undefined;
  return {
    env: process.env,
    platform: process.platform,
    uid,
    get home() {
      home ??= (require("node:os") as typeof import("node:os")).homedir();
      return home;
    },
    get username() {
      username ??= resolveUsername(process.env, () => osUsername(uid));
      return username;
    },
    isPrivateDir: (dir) => isPrivateDirOf(dir, uid),
  };
}

function osUsername(uid: number): string {
  try {
    return (require("node:os") as typeof import("node:os")).userInfo().username;
  } catch {
    return `uid${uid}`;
  }
}

/** lstat, so a symlink planted at the path does not count; any error means "no". */
export function isPrivateDirOf(dir: string, uid: number): boolean {
  try {
    const st = (require("node:fs") as typeof import("node:fs")).lstatSync(dir);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}
