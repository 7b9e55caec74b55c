import { expect, test } from "bun:test";
import { desktopPrompt } from "../../../src/platform/desktop-prompt.ts";

test("no display, no prompt: the answer must come from credagent approve", async () => {
  expect(await desktopPrompt("allow?", 1_000, { PATH: process.env.PATH })).toBeNull();
});
