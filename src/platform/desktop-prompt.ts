// A yes/no question on the desktop, with whatever the platform has: zenity, kdialog or a
// notification with actions (notify-send) under X11 or Wayland, osascript on macOS, a PowerShell message box on Windows. Null when none is available
// (a server, an SSH session): the user answers with `credagent approve` instead.

const TITLE = "credagent";

// The question names the asking program, whose path its owner chose: it is passed so that no tool
// reads it as anything but text. zenity without markup; kdialog and notification servers take
// markup, so it is escaped; AppleScript and PowerShell read it from the environment, never from
// their own source text (a path holding $(...) was code in a PowerShell double-quoted string).
const QUESTION_VARIABLE = "CREDAGENT_QUESTION";

function escapeMarkup(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export interface PromptCommand {
  argv: string[];
  /** Variables added to the tool's environment. */
  env?: Record<string, string>;
}

export function promptCommands(
  question: string,
  timeoutS: number,
  env: Record<string, string | undefined>,
  platform = process.platform,
): PromptCommand[] {
  if (platform === "darwin") {
    return [
      {
        argv: [
          "osascript",
          "-e",
          `display dialog (system attribute "${QUESTION_VARIABLE}") with title "${TITLE}" buttons {"Deny", "Allow"} default button "Deny" giving up after ${timeoutS}`,
          "-e",
          'button returned of result is "Allow"',
        ],
        env: { [QUESTION_VARIABLE]: question },
      },
    ];
  }
  if (platform === "win32") {
    const ps = `Add-Type -AssemblyName PresentationFramework; if ([System.Windows.MessageBox]::Show($env:${QUESTION_VARIABLE}, '${TITLE}', 'YesNo') -eq 'Yes') { exit 0 } else { exit 1 }`;
    return [{ argv: ["powershell.exe", "-NoProfile", "-Command", ps], env: { [QUESTION_VARIABLE]: question } }];
  }
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return [];
  return [
    { argv: ["zenity", "--question", "--no-markup", `--title=${TITLE}`, `--text=${question}`, `--timeout=${timeoutS}`] },
    // Rich text forced (<qt>), so that the escaped text is shown as the text it is.
    { argv: ["kdialog", "--title", TITLE, "--yesno", `<qt>${escapeMarkup(question)}</qt>`] },
    // libnotify 0.7.9+: prints the chosen action's key, nothing when dismissed or timed out.
    {
      argv: [
        "notify-send",
        "--action=allow=Allow",
        "--action=deny=Deny",
        "--wait",
        `--expire-time=${timeoutS * 1000}`,
        TITLE,
        escapeMarkup(question),
      ],
    },
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
  for (const { argv, env: extra } of promptCommands(question, Math.ceil(timeoutMs / 1000), env)) {
    const tool = argv[0]!;
    if (!Bun.which(tool)) continue;
    const child = Bun.spawn(argv, {
      stdio: ["ignore", "pipe", "ignore"],
      env: { ...env, ...extra } as Record<string, string>,
      timeout: timeoutMs,
    });
    const out = await new Response(child.stdout).text();
    const code = await child.exited;
    if (tool === "osascript") return { approved: out.trim() === "true", tool };
    if (tool === "notify-send") return { approved: out.trim() === "allow", tool };
    return { approved: code === 0, tool };
  }
  return null;
}
