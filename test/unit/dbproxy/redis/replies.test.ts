import { describe, expect, test } from "bun:test";
import { ReplyScanner } from "../../../../src/dbproxy/redis/replies.ts";

const enc = (s: string) => new TextEncoder().encode(s);

/** The replies found in `input` cut at `cuts`: [end offset in the whole input, type, text, push]. */
function scan(input: string, cuts: number[] = []) {
  const scanner = new ReplyScanner();
  const bytes = enc(input);
  const found: Array<[number, string, string, boolean] | string> = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    const chunk = bytes.slice(from, cut);
    let at = 0;
    while (at < chunk.length) {
      const step = scanner.scan(chunk, at);
      if (step.kind === "error") {
        found.push(step.message);
        return found;
      }
      if (step.kind === "more") break;
      found.push([from + step.end, String.fromCharCode(step.reply.type), step.reply.text, step.reply.push]);
      at = step.end;
    }
    from = cut;
  }
  return found;
}

function everyCut(input: string) {
  const whole = scan(input);
  for (let i = 1; i < enc(input).length; i++) expect(scan(input, [i])).toEqual(whole);
  return whole;
}

describe("ReplyScanner", () => {
  test("RESP2: each top-level reply's end, type and simple text", () => {
    const input = "+OK\r\n-WRONGPASS bad\r\n:42\r\n$5\r\nhe\r\no\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n*-1\r\n*0\r\n";
    expect(everyCut(input)).toEqual([
      [5, "+", "OK", false],
      [21, "-", "WRONGPASS bad", false],
      [26, ":", "", false],
      [37, "$", "", false],
      [42, "$", "", false],
      [61, "*", "", false],
      [66, "*", "", false],
      [70, "*", "", false],
    ]);
  });

  test("RESP3: maps count pairs, pushes are marked, attributes are no reply of their own", () => {
    const input =
      "%1\r\n+a\r\n:1\r\n>2\r\n+message\r\n$1\r\nx\r\n|1\r\n+ttl\r\n:3\r\n#t\r\n~1\r\n,1.5\r\n_\r\n=7\r\ntxt:abc\r\n(12345\r\n!3\r\nERR\r\n";
    const found = everyCut(input);
    expect(found.map((f) => (typeof f === "string" ? f : [f[1], f[3]]))).toEqual([
      ["%", false],
      [">", true],
      ["#", false],
      ["~", false],
      ["_", false],
      ["=", false],
      ["(", false],
      ["!", false],
    ]);
  });

  test("a long simple string keeps its first 64 bytes; its end is still found", () => {
    const long = "x".repeat(500);
    expect(everyCut(`+${long}\r\n+RESET\r\n`)).toEqual([
      [503, "+", "x".repeat(64), false],
      [511, "+", "RESET", false],
    ]);
  });

  test("not RESP is an error", () => {
    expect(scan("?what\r\n")).toEqual(["the server sent a reply of unknown type '?'"]);
    expect(scan("$x\r\n")).toEqual(["the server sent a malformed bulk length"]);
  });
});
