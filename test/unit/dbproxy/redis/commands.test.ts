import { describe, expect, test } from "bun:test";
import { CommandReader, splitInline, type CommandEvent } from "../../../../src/dbproxy/redis/commands.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const WATCHED = new Set(["AUTH", "HELLO"]);

/** What the reader makes of `input` cut into pieces at `cuts`: forwarded text, command count, held commands. */
function read(input: string, cuts: number[] = []) {
  const reader = new CommandReader((name) => WATCHED.has(name));
  const bytes = enc(input);
  const events: CommandEvent[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    events.push(...reader.push(bytes.slice(from, cut)));
    from = cut;
  }
  // Consecutive forwards joined, to compare outcomes whatever the cuts.
  const out: Array<string | { command: string[] } | { error: string } | { commands: number }> = [];
  let forwarded = "";
  let commands = 0;
  const flush = () => {
    if (forwarded || commands) out.push(forwarded, { commands });
    forwarded = "";
    commands = 0;
  };
  for (const e of events) {
    if (e.kind === "forward") {
      forwarded += dec(e.bytes);
      commands += e.commands;
    } else {
      flush();
      out.push(e.kind === "command" ? { command: e.args.map(dec) } : { error: e.message });
    }
  }
  flush();
  return out;
}

function everyCut(input: string) {
  const whole = read(input);
  for (let i = 1; i < enc(input).length; i++) expect(read(input, [i])).toEqual(whole);
  for (let i = 1; i + 3 < enc(input).length; i += 3) expect(read(input, [i, i + 1, i + 3])).toEqual(whole);
  return whole;
}

describe("CommandReader", () => {
  test("commands of no interest pass as they are, counted; the same whatever the chunk boundaries", () => {
    const input = "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n";
    expect(everyCut(input)).toEqual([input, { commands: 2 }]);
  });

  test("AUTH is held whole and taken out of the stream, between the commands around it", () => {
    const input = "*1\r\n$4\r\nPING\r\n*3\r\n$4\r\nauth\r\n$3\r\napp\r\n$6\r\nsecret\r\n*1\r\n$4\r\nPING\r\n";
    expect(everyCut(input)).toEqual([
      "*1\r\n$4\r\nPING\r\n",
      { commands: 1 },
      { command: ["auth", "app", "secret"] },
      "*1\r\n$4\r\nPING\r\n",
      { commands: 1 },
    ]);
  });

  test("inline commands: split as the server splits them; empty lines forwarded and not counted", () => {
    expect(everyCut("PING\r\n\r\nAUTH \"pa ss\" 'x'\r\nGET a\n")).toEqual([
      "PING\r\n\r\n",
      { commands: 1 },
      { command: ["AUTH", "pa ss", "x"] },
      "GET a\n",
      { commands: 1 },
    ]);
  });

  test("*0 and *-1 are forwarded with no answer expected", () => {
    expect(everyCut("*0\r\n*-1\r\n")).toEqual(["*0\r\n*-1\r\n", { commands: 0 }]);
  });

  test("a long first argument is no command name: passed on as it comes", () => {
    const name = "X".repeat(100);
    const input = `*1\r\n$100\r\n${name}\r\n`;
    expect(everyCut(input)).toEqual([input, { commands: 1 }]);
  });

  test("a big value streams: the reader holds none of it", () => {
    const reader = new CommandReader(() => false);
    const head = enc("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n");
    const events = reader.push(head);
    expect(events).toEqual([{ kind: "forward", bytes: head, commands: 1 }]);
    const body = new Uint8Array(500_000);
    const more = reader.push(body);
    expect(more.length).toBe(1);
    expect(more[0]!.kind === "forward" && more[0]!.bytes.length).toBe(500_000);
  });

  test("protocol errors as the server names them", () => {
    expect(read("*2\r\nxx\r\n")).toEqual([{ error: "expected '$', got 'x'" }]);
    expect(read("*abc\r\n")).toEqual([{ error: "invalid multibulk length" }]);
    expect(read("*1\r\n$-5\r\n")).toEqual([{ error: "invalid bulk length" }]);
    expect(read('GET "a\r\n')).toEqual([{ error: "unbalanced quotes in request" }]);
    expect(read("x".repeat(70_000))).toEqual([{ error: "too big inline request" }]);
  });

  test("a held command past 1 MiB is refused, not buffered without end", () => {
    const reader = new CommandReader((n) => n === "AUTH");
    const events = reader.push(enc("*2\r\n$4\r\nAUTH\r\n$2000000\r\n"));
    expect(events).toEqual([]);
    const more = reader.push(new Uint8Array(1_100_000));
    expect(more.map((e) => e.kind)).toEqual(["error"]);
  });

  test("what a held AUTH left in the caller's chunk is zeroed when it spans chunks", () => {
    const reader = new CommandReader((n) => n === "AUTH");
    const first = enc("*2\r\n$4\r\nAUTH\r\n$6\r\nsec");
    expect(reader.push(first)).toEqual([]);
    expect(dec(first)).not.toContain("sec");
    const [event] = reader.push(enc("ret\r\n"));
    expect(event!.kind === "command" && event!.args.map(dec)).toEqual(["AUTH", "secret"]);
  });
});

describe("splitInline", () => {
  test("quotes and escapes", () => {
    expect(splitInline(enc("a \"b\\x41\\n\" 'c\\'d'"))!.map(dec)).toEqual(["a", "bA\n", "c'd"]);
    expect(splitInline(enc('"a"b'))).toBeNull();
    expect(splitInline(enc("   "))).toEqual([]);
  });
});
