// For desktop sessions without a systemd user manager: an XDG autostart entry (the freedesktop
// Desktop Application Autostart spec) that starts the agent at login, as gnome-keyring's own
// entries do. Apps find its default socket path ($XDG_RUNTIME_DIR/cred.sock) without CRED_SOCK.

export const AUTOSTART_FILE = "credagent.desktop";

/** Exec= takes arguments quoted with double quotes; `\`, `"`, `` ` `` and `$` escaped inside. */
function desktopQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `"${arg.replace(/[\\"`$]/g, (c) => `\\${c}`)}"`;
}

export function autostartEntry(binary: string): string {
  return `# Written by 'credagent service install'; 'credagent service uninstall' removes it.
[Desktop Entry]
Type=Application
Name=credagent
Comment=Short-lived credentials for local programs
Exec=${desktopQuote(binary)} start -s --service
Terminal=false
NoDisplay=true
X-GNOME-Autostart-Phase=PreDisplayServer
X-GNOME-AutoRestart=false
`;
}
