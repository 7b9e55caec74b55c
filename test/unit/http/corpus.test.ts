import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { RequestParser } from "../../../src/http/parser.ts";
import { CORPUS, type CorpusCase } from "../../fixtures/http-corpus.ts";

// Every corpus request through our parser and through Node's (llhttp): ours does what the corpus
// says, and never accepts what llhttp rejects (a request two parsers frame differently is how
// requests are smuggled past one of them).

const LIMITS = { maxHeadBytes: 16 * 1024, maxBodyBytes: 64 * 1024 };
const JUDGE = resolve(import.meta.dir, "../../support/llhttp-judge.mjs");
const NODE = Bun.which("node");

function bytesOf(c: CorpusCase): Uint8Array {
  return typeof c.request === "string" ? Uint8Array.from(c.request, (ch) => ch.charCodeAt(0)) : c.request;
}

/** Our parser's outcome: how many requests it took, or "reject" at its first error. */
function ours(c: CorpusCase): "reject" | number {
  const parser = new RequestParser(LIMITS);
  parser.push(bytesOf(c));
  let requests = 0;
  for (;;) {
    const step = parser.next();
    if (step.kind === "error") return "reject";
    if (step.kind !== "request") return requests;
    requests += 1;
  }
}

test("each corpus request: our parser does what the corpus says", () => {
  const mismatches = CORPUS.filter((c) => ours(c) !== c.ours).map((c) => `${c.name}: ours ${ours(c)}, corpus ${c.ours}`);
  expect(mismatches).toEqual([]);
});

test("our parser never accepts what Node's llhttp rejects", () => {
  if (!NODE) throw new Error("node is needed: the reference parser is Node's own");
  const input = JSON.stringify(CORPUS.map((c) => Buffer.from(bytesOf(c)).toString("base64")));
  const r = Bun.spawnSync([NODE, JUDGE], { stdin: new Blob([input]), stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`the llhttp judge failed: ${r.stderr.toString()}`);
  const judged = JSON.parse(r.stdout.toString()) as Array<{ outcome: "accept" | "reject"; requests: number; error: string | null }>;
  expect(judged.length).toBe(CORPUS.length);
  const disagreements = CORPUS.flatMap((c, i) => {
    const theirs = judged[i]!;
    const mine = ours(c);
    if (theirs.outcome === "reject" && mine !== "reject") return [`${c.name}: llhttp rejects (${theirs.error}), we accept`];
    if (theirs.outcome === "accept" && mine !== "reject" && theirs.requests !== mine)
      return [`${c.name}: llhttp takes ${theirs.requests} requests, we take ${mine}`];
    return [];
  });
  expect(disagreements).toEqual([]);
  // Print where we are stricter, for the record.
  const stricter = CORPUS.filter((c, i) => ours(c) === "reject" && judged[i]!.outcome === "accept").map((c) => c.name);
  console.log(`stricter than llhttp: ${stricter.join("; ") || "nothing"}`);
});
