// Which way `credagent service install` starts the agent on Linux, and why (pure: unit-tested).
// systemd only where one runs: a machine booted with systemd has /run/systemd/system (what
// sd_booted() checks), and the session needs a user manager that answers (`systemctl --user`).
// Containers, WSL without systemd and machines with another init have neither: there units would
// be written and the commands printed to enable them would fail, so the XDG autostart entry is used.

export type LinuxServiceKind = "systemd" | "xdg";

export interface LinuxFacts {
  /** --systemd or --xdg. */
  forced?: LinuxServiceKind;
  systemdBooted: boolean;
  hasSystemctl: boolean;
  /** null: it answers; else why not (systemctl's own words). */
  userManagerProblem: string | null;
}

export function chooseLinuxService(facts: LinuxFacts): { kind: LinuxServiceKind; why: string } {
  if (facts.forced === "xdg") return { kind: "xdg", why: "--xdg" };
  if (facts.forced === "systemd") return { kind: "systemd", why: "--systemd" };
  if (facts.hasSystemctl && facts.systemdBooted && facts.userManagerProblem === null)
    return { kind: "systemd", why: "a systemd user manager answers in this session" };
  const reason = !facts.systemdBooted
    ? "systemd is not running on this machine (no /run/systemd/system: a container, WSL without systemd, or another init)"
    : !facts.hasSystemctl
      ? "systemctl is not installed"
      : `systemd runs, but no systemd user manager answers in this session (systemctl --user: ${facts.userManagerProblem})`;
  return { kind: "xdg", why: `${reason}; '--systemd' writes the systemd units anyway and prints the commands that enable them` };
}
