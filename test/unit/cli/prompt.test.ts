import { expect, test } from "bun:test";
import { editLine } from "../../../src/cli/prompt.ts";

// The raw-mode prompt (Windows consoles, which have no stty) edits as a terminal's defaults do.
const typed = (keys: string) => [...keys].reduce(editLine, "");

test("Backspace erases a character, Ctrl-U the line, Ctrl-W a word; control characters are dropped", () => {
  expect(typed("zz\u0015lk")).toBe("lk");
  expect(typed("abc\u007fd")).toBe("abd");
  expect(typed("one two\u0017three")).toBe("one three");
  expect(typed("one two  \u0017x")).toBe("one x");
  expect(typed("a\u0001b")).toBe("ab");
});
