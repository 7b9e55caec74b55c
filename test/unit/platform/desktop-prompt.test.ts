import { expect, test } from "bun:test";
import { desktopPrompt } from "../../../src/platform/desktop-prompt.ts";

test("no display, no prompt: the answer must come from credagent approve", async () => {
  expect(await desktopPrompt("allow?", 1_000, { PATH: process.env.PATH })).toBeNull();
});

test("the question is passed as text: never in AppleScript's or PowerShell's source, escaped where a tool reads markup", async () => {
  const { promptCommands } = await import("../../../src/platform/desktop-prompt.ts");
  const question = `/tmp/$(calc)"'<b>x</b>&" (pid 1) asks for the credential 'db'. Allow it for this session?`;
  for (const platform of ["darwin", "win32"] as const) {
    const [command] = promptCommands(question, 60, {}, platform);
    expect(command!.argv.join(" ")).not.toContain("calc");
    expect(command!.env).toEqual({ CREDAGENT_QUESTION: question });
  }
  const linux = promptCommands(question, 60, { DISPLAY: ":0" }, "linux");
  expect(linux[0]!.argv).toContain("--no-markup");
  expect(linux[0]!.argv).toContain(`--text=${question}`);
  expect(linux[1]!.argv.at(-1)).toBe(
    `<qt>/tmp/$(calc)"'&lt;b&gt;x&lt;/b&gt;&amp;" (pid 1) asks for the credential 'db'. Allow it for this session?</qt>`,
  );
  expect(linux[2]!.argv.at(-1)).not.toContain("<b>");
  expect(promptCommands(question, 60, {}, "linux")).toEqual([]);
});
