// The shell code that `start` and `stop` print for eval, in each shell's dialect (as ssh-agent).

import { capabilities } from "../../platform/os.ts";

export type ShellDialect = "sh" | "csh" | "fish" | "powershell";

export function dialectFromShell(shell: string | undefined, fallback: "sh" | "powershell" = capabilities.defaultShell): ShellDialect {
  // Windows has no SHELL (Git Bash and MSYS set one): PowerShell is its shell.
  if (!shell && fallback === "powershell") return "powershell";
  const name = (shell ?? "").split(/[\\/]/).pop() ?? "";
  if (/csh$/.test(name)) return "csh";
  if (name === "fish") return "fish";
  if (/^(pwsh|powershell)(\.exe)?$/i.test(name)) return "powershell";
  return "sh";
}

function shQuote(value: string): string {
  return /^[\w./:@%+=,-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

function psQuote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export function exportCode(dialect: ShellDialect, vars: Array<[string, string]>, message: string): string {
  const lines = vars.map(([name, value]) => {
    switch (dialect) {
      case "sh":
        return `${name}=${shQuote(value)}; export ${name};`;
      case "csh":
        return `setenv ${name} ${shQuote(value)};`;
      case "fish":
        return `set -x ${name} ${shQuote(value)};`;
      case "powershell":
        return `$env:${name} = ${psQuote(value)};`;
    }
  });
  lines.push(echo(dialect, message));
  return `${lines.join("\n")}\n`;
}

export function unsetCode(dialect: ShellDialect, names: string[], message: string): string {
  const lines = names.map((name) => {
    switch (dialect) {
      case "sh":
        return `unset ${name};`;
      case "csh":
        return `unsetenv ${name};`;
      case "fish":
        return `set -e ${name};`;
      case "powershell":
        return `Remove-Item Env:${name} -ErrorAction SilentlyContinue;`;
    }
  });
  lines.push(echo(dialect, message));
  return `${lines.join("\n")}\n`;
}

function echo(dialect: ShellDialect, message: string): string {
  return dialect === "powershell" ? `Write-Output ${psQuote(message)};` : `echo ${shQuote(message)};`;
}
