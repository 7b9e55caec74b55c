import { configSchema } from "../../config/schema.ts";
import type { Command, CommandEntry } from "../command.ts";
import { VERSION } from "../../version.ts";
import { KEY_DOCS, schemaKeys } from "./config-keys.ts";

// credagent(1) and credagent.toml(5) in roff, generated from the commands' own usage texts and the
// config schema: `credagent manpage 1|5`, run by install.sh and scripts/release.sh.

/** Text made safe for roff: backslashes doubled, a leading dot or quote escaped. */
function roff(text: string): string {
  return text
    .replace(/\\/g, "\\e")
    .split("\n")
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join("\n");
}

export function manPage1(commands: Array<{ entry: CommandEntry; command: Command }>): string {
  const sections = commands
    .map(({ entry, command }) => `.SS ${entry.name}\n${roff(entry.summary)}.\n.PP\n.nf\n${roff(command.usage)}\n.fi`)
    .join("\n");
  return `.TH CREDAGENT 1 "" "credagent ${VERSION}" "User Commands"
.SH NAME
credagent \\- a local credential broker: short-lived tokens over a per-user socket
.SH SYNOPSIS
.B credagent
.I COMMAND
.RI [ ARGS ]
.br
.B credagent agent
.RI [ OPTIONS ]
.SH DESCRIPTION
credagent is an agent in the style of ssh-agent: started per user, it obtains short-lived
credentials (OAuth2/OIDC access tokens, passwords, AWS keys), refreshes them before they expire,
keeps long-lived secrets in the OS keyring, and hands them to local programs over a per-user Unix
socket (or a Windows named pipe), checking who asks.
.SH COMMANDS
${sections}
.SS agent
Runs the agent in the foreground (systemd, debugging).
.SS version
Prints the version.
.SH ENVIRONMENT
.TP
.B CRED_SOCK
The agent's socket; default \\fI$XDG_RUNTIME_DIR/cred.sock\\fR.
.TP
.B CRED_SESSION_TOKEN
The session token apps send as \\fIAuthorization: Bearer\\fR.
.TP
.B CREDAGENT_CONFIG
The config file; default \\fI$XDG_CONFIG_HOME/credagent/config.toml\\fR.
.TP
.B CREDAGENT_FILE_PASSPHRASE
The encrypted file store's passphrase (read once by the agent, then erased from its environment).
.SH FILES
.TP
.I $XDG_CONFIG_HOME/credagent/config.toml
The config; see \\fBcredagent.toml\\fR(5).
.TP
.I $XDG_RUNTIME_DIR/cred.sock
The agent's socket (0600, in a 0700 directory), and \\fIcred.sock.token\\fR beside it.
.TP
.I $XDG_STATE_HOME/credagent/agent.log\\fR, \\fIaudit.log
The agent's log and the audit log of access decisions.
.TP
.I $XDG_DATA_HOME/credagent/store
The encrypted file store, where no OS keyring is available.
.SH EXIT STATUS
0 ok, 1 the request failed, 2 usage error, 3 no agent running; \\fBexec\\fR passes its command's status through.
.SH SEE ALSO
.BR credagent.toml (5),
.BR ssh-agent (1)
`;
}

export function manPage5(): string {
  const keys = schemaKeys(configSchema);
  const entries = keys.map((key) => `.TP\n.B ${roff(key)}\n${roff(KEY_DOCS[key] ?? "")}`).join("\n");
  return `.TH CREDAGENT.TOML 5 "" "credagent ${VERSION}" "File Formats"
.SH NAME
credagent.toml \\- the configuration of credagent(1)
.SH DESCRIPTION
A TOML file, \\fI$XDG_CONFIG_HOME/credagent/config.toml\\fR by default. Unknown keys are errors;
durations are written as "90s", "5m" or "1h". No secret belongs in this file: secrets live in the
keyring (\\fBcredagent secret set\\fR). \\fBcredagent reload\\fR (or SIGHUP) applies an edited file.
.SH KEYS
${entries}
.SH SEE ALSO
.BR credagent (1)
`;
}
