// A yes/no question on the desktop, with whatever the platform has: zenity, kdialog or a
// notification with actions (notify-send) under X11 or Wayland, osascript on macOS, a PowerShell message box on Windows. Null when none is available
// (a server, an SSH session): the user answers with `credagent approve` instead.

const TITLE = "credagent";

function candidates(question: string, timeoutS: number, env: Record<string, string | undefined>): string[][] {
  if (process.platform === "darwin") {
    return [
      [
        "osascript",
        "-e",
        `display dialog ${JSON.stringify(question)} with title "${TITLE}" buttons {"Deny", "Allow"} default button "Deny" giving up after ${timeoutS}`,
        "-e",
        'button returned of result is "Allow"',
      ],
    ];
  }
  if (process.platform === "win32") {
    const ps = `Add-Type -AssemblyName PresentationFramework; if ([System.Windows.MessageBox]::Show(${JSON.stringify(question)}, '${TITLE}', 'YesNo') -eq 'Yes') { exit 0 } else { exit 1 }`;
    return [["powershell.exe", "-NoProfile", "-Command", ps]];
  }
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return [];
  return [
    ["zenity", "--question", `--title=${TITLE}`, `--text=${question}`, `--timeout=${timeoutS}`],
    ["kdialog", "--title", TITLE, "--yesno", question],
    // libnotify 0.7.9+: prints the chosen action's key, nothing when dismissed or timed out.
    ["notify-send", "--action=allow=Allow", "--action=deny=Deny", "--wait", `--expire-time=${timeoutS * 1000}`, TITLE, question],
  ];
}

/** The answer, and the program that asked it (for the audit line: how the request was confirmed). */
export interface DesktopAnswer {
  approved: boolean;
  tool: string;
}

export async function desktopPrompt(
  question: string,
  timeoutMs: number,
  env: Record<string, string | undefined> = process.env,
): Promise<DesktopAnswer | null> {
  for (const argv of candidates(question, Math.ceil(timeoutMs / 1000), env)) {
    const tool = argv[0]!;
    if (!Bun.which(tool)) continue;
    const child = Bun.spawn(argv, { stdio: ["ignore", "pipe", "ignore"], env: env as Record<string, string>, timeout: timeoutMs });
    const out = await new Response(child.stdout).text();
    const code = await child.exited;
    if (tool === "osascript") return { approved: out.trim() === "true", tool };
    if (tool === "notify-send") return { approved: out.trim() === "allow", tool };
    return { approved: code === 0, tool };
  }
  return null;
}
