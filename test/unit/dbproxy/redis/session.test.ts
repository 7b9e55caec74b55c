import { describe, expect, test } from "bun:test";
import { RedisSession } from "../../../../src/dbproxy/redis/session.ts";
import type { Stream } from "../../../../src/transport/stream.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A Stream that records what is written to it; `written` runs at once unless held. */
function fakeStream() {
  const out: string[] = [];
  const stream = {
    fd: undefined,
    written: [] as Array<() => void>,
    hold: false,
    pendingBytes: 0,
    onDrain: () => {},
    /** The kernel takes everything held. */
    drain() {
      stream.pendingBytes = 0;
      for (const w of stream.written.splice(0)) w();
      stream.onDrain();
    },
    paused: false,
    ended: false,
    destroyed: false,
    write(bytes: Uint8Array, written?: () => void) {
      out.push(dec(bytes));
      if (stream.hold) {
        stream.pendingBytes += bytes.length;
        if (written) stream.written.push(written);
      } else written?.();
    },
    end() {
      stream.ended = true;
    },
    destroy() {
      stream.destroyed = true;
    },
    pause() {
      stream.paused = true;
    },
    resume() {
      stream.paused = false;
    },
    onData: (_: Uint8Array) => {},
    onEnd: () => {},
    onClose: () => {},
    text: () => out.join(""),
    clear: () => out.splice(0),
  };
  return stream;
}

function session(loginCommand = async () => enc("*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n")) {
  const client = fakeStream();
  const server = fakeStream();
  const warnings: string[] = [];
  new RedisSession(client as unknown as Stream, server as unknown as Stream, {
    user: "app",
    loginCommand,
    warn: (m) => warnings.push(m),
  }).start();
  return { client, server, warnings, send: (s: string) => client.onData(enc(s)), reply: (s: string) => server.onData(enc(s)) };
}

describe("RedisSession", () => {
  test("an AUTH waits for the replies to the commands before it", () => {
    const s = session();
    s.send("GET a\r\nAUTH x\r\nGET b\r\n");
    expect(s.server.text()).toBe("GET a\r\nGET b\r\n");
    expect(s.client.text()).toBe("");
    s.reply("$1\r\n1\r\n");
    expect(s.client.text()).toBe("$1\r\n1\r\n+OK\r\n");
    s.reply("$-1\r\n");
    expect(s.client.text()).toBe("$1\r\n1\r\n+OK\r\n$-1\r\n");
  });

  test("a reply split anywhere keeps the order", () => {
    const s = session();
    s.send("LRANGE l 0 -1\r\nAUTH app x\r\n");
    const reply = "*2\r\n$3\r\nabc\r\n$2\r\nde\r\n";
    for (const ch of reply) s.reply(ch);
    expect(s.client.text()).toBe(reply + "+OK\r\n");
  });

  test("RESP3 pushes between replies are passed on and not counted", () => {
    const s = session();
    s.send("HELLO 3\r\nGET a\r\nAUTH x\r\n");
    s.reply("%1\r\n+proto\r\n:3\r\n>2\r\n+message\r\n+hi\r\n");
    expect(s.client.text()).toBe("%1\r\n+proto\r\n:3\r\n>2\r\n+message\r\n+hi\r\n");
    s.reply("+v\r\n");
    expect(s.client.text().endsWith("+v\r\n+OK\r\n")).toBe(true);
  });

  test("after MONITOR (replies cannot be counted) AUTH is answered at once", () => {
    const s = session();
    s.send("MONITOR\r\n");
    s.reply('+OK\r\n+1700000000.1 [0 unix] "get"\r\n');
    s.send("AUTH x\r\n");
    expect(s.client.text()).toBe('+OK\r\n+1700000000.1 [0 unix] "get"\r\n+OK\r\n');
  });

  test("RESP2 SUBSCRIBE then RESET: the proxy logs in again; its reply is taken out; counting resumes after +RESET", async () => {
    const s = session();
    s.send("SUBSCRIBE a b\r\nRESET\r\nGET k\r\nAUTH x\r\n");
    await Bun.sleep(0);
    expect(s.server.text()).toBe("SUBSCRIBE a b\r\nRESET\r\n*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\nGET k\r\n");
    s.reply(
      "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nx\r\n",
    );
    s.client.clear();
    s.reply("+RESET\r\n+OK\r\n$1\r\nv\r\n");
    expect(s.client.text()).toBe("+RESET\r\n$1\r\nv\r\n+OK\r\n");
  });

  test("the login after RESET refused: the client is told and the session ends", async () => {
    const s = session();
    s.send("RESET\r\n");
    await Bun.sleep(0);
    s.reply("+RESET\r\n-WRONGPASS invalid\r\n");
    expect(s.client.text()).toBe("+RESET\r\n-ERR credagent: the server refused the login again after RESET\r\n");
    expect(s.client.ended).toBe(true);
    expect(s.warnings[0]).toContain("WRONGPASS");
  });

  test("HELLO with AUTH: checked, and sent without it; another user refused here", () => {
    const s = session();
    s.send("*6\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$4\r\nAUTH\r\n$3\r\napp\r\n$6\r\nsecret\r\n$7\r\nSETNAME\r\n");
    expect(s.client.text()).toContain("Syntax error in HELLO option");
    const t = session();
    t.send("HELLO 3 AUTH app secret SETNAME me\r\nHELLO 3 AUTH bob secret\r\n");
    expect(t.server.text()).toBe("*4\r\n$5\r\nHELLO\r\n$1\r\n3\r\n$7\r\nSETNAME\r\n$2\r\nme\r\n");
    t.reply("%0\r\n");
    expect(t.client.text()).toMatch(/^%0\r\n-WRONGPASS credagent: this socket logs in as 'app', not 'bob'/);
  });

  test("a slow client stops the server being read; reading resumes as the client takes the bytes", () => {
    const s = session();
    s.client.hold = true;
    s.send("GET big\r\n");
    s.reply(`$${2_000_000}\r\n`);
    s.reply("x".repeat(2_000_000) + "\r\n");
    expect(s.server.paused).toBe(true);
    s.client.drain();
    expect(s.server.paused).toBe(false);
  });

  test("a protocol error is answered as the server answers it, and the session ends", () => {
    const s = session();
    s.send("*1\r\nxx\r\n");
    expect(s.client.text()).toBe("-ERR Protocol error: expected '$', got 'x'\r\n");
    expect(s.client.ended).toBe(true);
    expect(s.server.destroyed).toBe(true);
  });
});
