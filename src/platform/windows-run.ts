// The Windows logon start: a value under the user's Run key, which Windows runs at every logon of
// that user. Chosen over a Task Scheduler logon task because it needs no administrator (a logon
// trigger for schtasks /Create does), is one value that reg.exe adds, reads and deletes, and
// exists the same under Wine, where the suite runs it. Pure text: the service command runs reg.exe.
//
// It runs `credagent start --service` (the agent it starts is the service's: `service uninstall`
// stops it and no other), not the agent itself: a program started from the Run key gets a
// console window for as long as it runs, and `start` exits at once, leaving the agent detached
// (DETACHED_PROCESS: no console). The start's window flashes for a moment at logon.

export const RUN_KEY = "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run";
export const RUN_VALUE = "credagent";

/** The command line Windows runs at logon. A Windows path cannot hold `"`, so quoting it is enough. */
export function runCommandLine(binary: string): string {
  return `"${binary}" start -s --service`;
}

/**
 * The data of `value` in what `reg query KEY /v VALUE` printed, or null when it is absent:
 * lines of `    NAME    REG_SZ    DATA` under the key's name.
 */
export function parseRegQuery(output: string, value: string): string | null {
  for (const line of output.split(/\r?\n/)) {
    const match = /^\s+(.+?)\s{4}REG_(?:EXPAND_)?SZ\s{4}(.*)$/.exec(line);
    if (match && match[1]!.toLowerCase() === value.toLowerCase()) return match[2]!;
  }
  return null;
}
