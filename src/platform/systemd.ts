// The systemd user units that start the agent at the first connection to its socket, as Debian's
// gpg-agent.socket and gcr-ssh-agent.socket do, and the environment.d file that gives CRED_SOCK to
// the whole session (GUI apps, IDEs, other user services). Pure text: the service command writes it.

import { MALLOC_TUNABLE } from "./malloc-tunables.ts";

/** A path as systemd's command-line parser takes it: quoted when it holds a space, % doubled. */
function execPath(path: string): string {
  const escaped = path.replace(/%/g, "%%").replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  return /[\s"\\]/.test(path) ? `"${escaped}"` : escaped;
}

export const SYSTEMD_SOCKET_UNIT = "credagent.socket";
export const SYSTEMD_SERVICE_UNIT = "credagent.service";
export const ENVIRONMENT_D_FILE = "60-credagent.conf";

export function systemdSocketUnit(): string {
  return `# Written by 'credagent service install'; 'credagent service uninstall' removes it.
[Unit]
Description=credagent: the credential agent's socket

[Socket]
ListenStream=%t/cred.sock
SocketMode=0600
DirectoryMode=0700
RemoveOnStop=true

[Install]
WantedBy=sockets.target
`;
}

export function systemdServiceUnit(binary: string): string {
  return `# Written by 'credagent service install'; 'credagent service uninstall' removes it.
[Unit]
Description=credagent: short-lived credentials for local programs
Requires=credagent.socket

[Service]
Type=simple
ExecStart=${execPath(binary)} agent
# glibc's thread cache keeps freed memory (copies of secrets) without overwriting it: off for the agent.
Environment=GLIBC_TUNABLES=${MALLOC_TUNABLE}
ExecReload=${execPath(binary)} reload
Restart=on-failure

[Install]
Also=credagent.socket
`;
}

export function environmentD(): string {
  return `# Written by 'credagent service install': apps of the session find the agent.
CRED_SOCK=\${XDG_RUNTIME_DIR}/cred.sock
`;
}
