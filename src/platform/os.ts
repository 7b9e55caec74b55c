// What this operating system can do, asked once, in one place: the rest of the code asks these
// questions instead of reading process.platform itself (only transport/, identity/, platform/ and
// native/ branch on the OS; paths.ts takes the OS as data in its PathEnv). capabilitiesOf is pure,
// so every OS's answers are unit-tested on Linux.

export interface Capabilities {
  os: NodeJS.Platform;
  /** The agent's local transport is a named pipe (Windows), not a Unix socket. */
  namedPipes: boolean;
  /** Unix sockets can be listened on: the database endpoints' sockets. */
  unixSockets: boolean;
  /** The listening socket may come from the service manager (systemd, launchd). */
  socketActivation: boolean;
  /** The owner of a loopback TCP connection can be asked of the kernel (sock_diag, /proc/net/tcp). */
  loopbackPeers: boolean;
  /** The shell whose code `start` prints when $SHELL names none (Windows has no SHELL: PowerShell). */
  defaultShell: "sh" | "powershell";
  /** The OS keyring, by its own name, and whether it lists a service's accounts (Credential Manager under Wine does not). */
  keyring: { name: "Secret Service" | "Keychain" | "Credential Manager"; listsAccounts: boolean };
  /** A directory can be fsync'ed to make a rename durable (Windows refuses the handle; NTFS journals renames). */
  directoryFsync: boolean;
  /** The console: termios (stty, canonical mode) or the Windows console (raw keys, stdin read through its handle). */
  console: "termios" | "windows";
  /** How the agent is started with the session: systemd or XDG autostart, a LaunchAgent, the Run key; null: none known. */
  autostart: "linux" | "launchd" | "windows-run" | null;
}

export function capabilitiesOf(os: NodeJS.Platform): Capabilities {
  const windows = os === "win32";
  return {
    os,
    namedPipes: windows,
    unixSockets: !windows,
    socketActivation: os === "linux" || os === "darwin",
    loopbackPeers: os === "linux",
    defaultShell: windows ? "powershell" : "sh",
    keyring: { name: os === "linux" ? "Secret Service" : os === "darwin" ? "Keychain" : "Credential Manager", listsAccounts: !windows },
    directoryFsync: !windows,
    console: windows ? "windows" : "termios",
    autostart: os === "linux" ? "linux" : os === "darwin" ? "launchd" : windows ? "windows-run" : null,
  };
}

/** This process's OS. */
export const capabilities: Capabilities = capabilitiesOf(process.platform);

/** This process's uid (0 where the OS has none: Windows). */
export function currentUid(): number {
  return process.getuid?.() ?? 0;
}
