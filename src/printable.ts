// Text a peer chose, made safe to show. An executable's path, a program's error output, a reason
// naming them: any of it can hold terminal escape sequences (an ESC or a C1 CSI that moves the
// cursor, rewrites the line, retitles the window) or bidirectional overrides that show one path
// as another: `credagent approve` listed a program as /usr/bin/psql that was not (issue 21, item 9).
// Every such character is shown as an escape instead: \x1b, \u009b, \u202e. Backslashes stay as
// they are (Windows paths); JSON output is unambiguous where that matters.

// C0 controls but tab, DEL, C1 controls, and the Unicode format characters that reorder or hide
// text: bidi marks, embeddings, overrides and isolates, zero-width joiners, the BOM.
const UNPRINTABLE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

function escape(char: string): string {
  const code = char.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** The text with every character that could act on a terminal, or disguise the text, escaped. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escape);
}

/** Multi-line text (a source's error output): lines kept, everything else escaped. */
export function printableLines(text: string): string {
  return text
    .split("\n")
    .map((line) => printable(line))
    .join("\n");
}

// What JSON.stringify leaves raw (it escapes C0 controls itself; newlines between the lines of
// pretty-printed JSON are not in strings and stay).
const RAW_IN_JSON = /[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** JSON text with the characters JSON.stringify leaves raw (DEL, C1, bidi and format characters) as \u escapes: the same value, safe on a terminal. */
export function terminalSafeJson(json: string): string {
  return json.replace(RAW_IN_JSON, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
