// The macOS logon start: a LaunchAgent whose socket launchd creates and hands to the agent at the
// first connection (launch_activate_socket), as Apple's own ssh-agent LaunchAgent does. With
// SecureSocketWithKey, launchd makes the socket in a fresh private directory and sets CRED_SOCK to
// its path for every process of the user's session, GUI apps included. Pure text: the service
// command writes it and runs launchctl.

export const LAUNCHD_LABEL = "dev.credagent.agent";
export const LAUNCHD_PLIST = `${LAUNCHD_LABEL}.plist`;
/** The name of the socket in the plist's Sockets, which the agent asks launchd for. */
export const LAUNCHD_SOCKET_NAME = "Listeners";
/** Set in the agent's environment by the plist: the agent takes its socket from launchd. */
export const LAUNCHD_SOCKET_ENV = "CREDAGENT_LAUNCHD_SOCKET";

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function launchAgentPlist(binary: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by 'credagent service install'; 'credagent service uninstall' removes it. -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
    <string>${xml(binary)}</string>
    <string>agent</string>
  </array>
  <key>EnvironmentVariables</key>
  <dict>
    <key>${LAUNCHD_SOCKET_ENV}</key>
    <string>${LAUNCHD_SOCKET_NAME}</string>
  </dict>
  <key>Sockets</key>
  <dict>
    <key>${LAUNCHD_SOCKET_NAME}</key>
    <dict>
      <key>SecureSocketWithKey</key>
      <string>CRED_SOCK</string>
      <key>SockPathMode</key>
      <integer>384</integer>
    </dict>
  </dict>
  <key>ProcessType</key>
  <string>Background</string>
</dict>
</plist>
`;
}
