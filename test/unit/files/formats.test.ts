import { describe, expect, test } from "bun:test";
import { parse as parseDotenv } from "dotenv";
import { compileTemplate, renderPieces, TemplateCompileError, type FileFormat } from "../../../src/files/formats.ts";
import { dotenvValue, netrcToken, ValueRefused, xmlText, yamlInSingleQuotes } from "../../../src/files/escape.ts";
import { parseTemplate, type KnownNames } from "../../../src/files/template.ts";

const known: KnownNames = {
  credentials: new Map([
    ["gitlab", ["password", "token", "username"]],
    ["db.prod", ["password", "token", "username"]],
    ["aws", ["password", "token", "username", "access_key_id", "secret_access_key", "session_token"]],
  ]),
  connections: new Set(["app"]),
};

/** Compiles and renders with every reference's value `value` (a part's name for the user name). */
function render(template: string, format: FileFormat, value: string): string {
  const { segments, problems } = parseTemplate(template, known);
  expect(problems).toEqual([]);
  return renderPieces(compileTemplate(segments, format), (ref) => (ref.kind === "credential" && ref.part === "username" ? "user" : value));
}

function compileProblems(template: string, format: FileFormat): string[] {
  const { segments, problems } = parseTemplate(template, known);
  if (problems.length > 0) return problems.map((p) => `${p.line}: ${p.message}`);
  try {
    compileTemplate(segments, format);
    return [];
  } catch (err) {
    return (err as TemplateCompileError).problems.map((p) => `${p.line}: ${p.message}`);
  }
}

const NASTY = `a"b'c\\d#e;f g\nh`;
const NASTY_ONE_LINE = `a"b'c\\d#e;f g`;

describe("references", () => {
  test("names, parts, dotted names and connections; unknown ones are problems with their line", () => {
    const { segments } = parseTemplate("{{ gitlab }} {{gitlab.username}} {{ db.prod }} {{ db.prod.password }} {{ conn.app }}", known);
    expect(segments.filter((s) => "ref" in s).map((s) => ("ref" in s ? s.ref : null))).toEqual([
      { kind: "credential", credential: "gitlab" },
      { kind: "credential", credential: "gitlab", part: "username" },
      { kind: "credential", credential: "db.prod" },
      { kind: "credential", credential: "db.prod", part: "password" },
      { kind: "connection", connection: "app" },
    ]);
    const { problems } = parseTemplate("ok {{ gitlab }}\n{{ gitlub }}\n{{ gitlab.tokn }}\n{{ conn.nope }}\n{{ }}\n{{ gitlab", known);
    expect(problems.map((p) => p.line)).toEqual([2, 3, 4, 5, 6]);
    expect(problems[0]!.message).toContain("no credential named 'gitlub'");
    expect(problems[1]!.message).toContain("'tokn' is not a part");
    expect(problems[2]!.message).toContain("no connection named 'nope'");
    expect(problems[4]!.message).toContain('no closing "}}"');
  });

  test("a part the credential cannot have is a problem saying how to fix it", () => {
    const k: KnownNames = { credentials: new Map([["api", ["password", "token"]]]), connections: new Set() };
    expect(parseTemplate("{{ api.username }}", k).problems[0]!.message).toContain('set username = "…" on [credentials.api]');
  });
});

describe("escaping by format, read back by the format's parser", () => {
  test("json: inside a string and as a value of its own", () => {
    const out = render('{"a": "x-{{ gitlab }}-y", "b": {{ gitlab }}, "c": [{{ gitlab.username }}]}', "json", NASTY);
    expect(JSON.parse(out)).toEqual({ a: `x-${NASTY}-y`, b: NASTY, c: ["user"] });
  });

  test("yaml: double quotes, single quotes (no line break), plain values", () => {
    const out = render('a: "{{ gitlab }}"\nb: {{ gitlab }}\nc:\n  - {{ gitlab }}  # comment\nd: {x: {{ gitlab }}}\n', "yaml", NASTY);
    expect(Bun.YAML.parse(out)).toEqual({ a: NASTY, b: NASTY, c: [NASTY], d: { x: NASTY } });
    expect(Bun.YAML.parse(render("a: 'p-{{ gitlab }}'\n", "yaml", NASTY_ONE_LINE))).toEqual({ a: `p-${NASTY_ONE_LINE}` });
    expect(() => render("a: '{{ gitlab }}'\n", "yaml", NASTY)).toThrow(ValueRefused);
    // Control and non-printable characters are escaped, not written raw (YAML refuses them).
    expect(Bun.YAML.parse(render("a: {{ gitlab }}\n", "yaml", "x\u0001\u007f\u0085\u2028y"))).toEqual({ a: "x\u0001\u007f\u0085\u2028y" });
  });

  test("env: quoted as the value needs; dotenv reads it back", () => {
    for (const value of [
      NASTY,
      "plain",
      "with space",
      "it's",
      'say "hi"',
      "back\\slash",
      "multi\nline",
      "a`b'c",
      "x\\ny",
      "#hash",
      " edge ",
    ]) {
      const out = render(`export A={{ gitlab }}\nB = pre-{{ gitlab }}\n# comment\nC=literal\n`, "env", value);
      expect(parseDotenv(out)).toEqual({ A: value, B: `pre-${value}`, C: "literal" });
    }
  });

  test("env: what dotenv cannot carry is refused with why", () => {
    expect(() => dotenvValue(`a'b"c\`d`)).toThrow("all together");
    expect(() => dotenvValue("a\rb")).toThrow("carriage return");
    expect(() => dotenvValue("ends\\")).toThrow("backslash");
  });

  test("netrc: plain or quoted tokens; a line break is refused", () => {
    expect(netrcToken("abc-123")).toBe("abc-123");
    expect(netrcToken(NASTY_ONE_LINE)).toBe(`"a\\"b'c\\\\d#e;f g"`);
    expect(netrcToken("")).toBe('""');
    expect(() => netrcToken(NASTY)).toThrow("line break");
    expect(render("machine h login {{ gitlab.username }} password tok-{{ gitlab }}\n", "netrc", "a b")).toBe(
      'machine h login user password "tok-a b"\n',
    );
  });

  test("ini: the value to the end of the line; line breaks and edge spaces refused", () => {
    expect(render("[s]\npassword = {{ gitlab }}\nurl=https://u:{{ gitlab }}@h\n", "ini", NASTY_ONE_LINE)).toBe(
      `[s]\npassword = ${NASTY_ONE_LINE}\nurl=https://u:${NASTY_ONE_LINE}@h\n`,
    );
    expect(() => render("p = {{ gitlab }}\n", "ini", NASTY)).toThrow("line break");
    expect(() => render("p = {{ gitlab }}\n", "ini", " x")).toThrow("space");
  });

  test("xml: markup and line breaks as references; what XML cannot hold is refused", () => {
    expect(xmlText(NASTY)).toBe("a&quot;b&apos;c\\d#e;f g&#10;h");
    expect(() => xmlText("a\u0001")).toThrow(ValueRefused);
  });

  test("yaml single quotes refuse control characters", () => {
    expect(() => yamlInSingleQuotes("a\u0007")).toThrow(ValueRefused);
  });

  test("a refusal names the reference and its line, never the value", () => {
    try {
      render("x\np = {{ gitlab.password }}\n", "ini", "sekrit\nline");
      throw new Error("expected a refusal");
    } catch (err) {
      expect((err as Error).message).toContain("the password of the credential 'gitlab' (line 2)");
      expect((err as Error).message).not.toContain("sekrit");
    }
  });
});

describe("places no escaping reaches are config errors with their line", () => {
  test("json and yaml", () => {
    expect(compileProblems('{"a": x{{ gitlab }}}', "json")[0]).toContain("inside a string");
    expect(compileProblems("a: |\n  {{ gitlab }}\nb: 1\n", "yaml")[0]).toMatch(/^2: .*block scalar/);
    expect(compileProblems("a: 1 # {{ gitlab }}\n", "yaml")[0]).toContain("comment");
    expect(compileProblems("a: |\n  text\nb: {{ gitlab }}\n", "yaml")).toEqual([]);
  });

  test("env, netrc, ini", () => {
    expect(compileProblems('A="{{ gitlab }}"\n', "env")[0]).toContain("without quotes");
    expect(compileProblems("A={{ gitlab }} # c\n", "env")[0]).toContain("comment");
    expect(compileProblems("# {{ gitlab }}\n", "env")[0]).toContain("only in the value");
    expect(compileProblems('machine h password "{{ gitlab }}"\n', "netrc")[0]).toContain("without quotes");
    expect(compileProblems("[{{ gitlab }}]\n", "ini")[0]).toContain("only in the value");
  });

  test("xml CDATA and comments", () => {
    expect(compileProblems("<a><![CDATA[{{ gitlab }}]]></a>", "xml")[0]).toContain("CDATA");
    expect(compileProblems("<!-- {{ gitlab }} -->", "xml")[0]).toContain("comment");
  });
});
