import type { Stream } from "../../transport/stream.ts";
import { CommandReader, type CommandEvent } from "./commands.ts";
import { ReplyScanner, type Reply } from "./replies.ts";

// One client's session through the Redis proxy, once the proxy has logged in to the server.
// Commands go to the server as they came, except the few the proxy answers or watches: the
// client's own AUTH (and HELLO's AUTH option) never reaches the server; the proxy answers it, OK
// for the user it logged in as, refused otherwise. The server's bytes come back untouched, but the
// proxy knows where each reply ends (replies.ts), so that its own answers go to the client in the
// order the commands were sent, and the replies to its own commands (the login again after the
// client's RESET) are taken out. Where replies cannot be counted (MONITOR, RESP2 pub/sub,
// CLIENT REPLY OFF) until a RESET, the proxy answers AUTH at once.

/** The commands the proxy reads whole; every other command passes as its bytes arrive. */
const WATCHED = new Set([
  "AUTH",
  "HELLO",
  "RESET",
  "MONITOR",
  "CLIENT",
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SUNSUBSCRIBE",
  "SYNC",
  "PSYNC",
]);
const SUBSCRIBE = new Set(["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"]);

export interface RedisSessionOptions {
  /** The user the proxy logged in as: a client's AUTH naming it, "default", or no user is answered OK. */
  user: string;
  /** The proxy's login command (AUTH with the credential's current value), for a login again after RESET. */
  loginCommand(): Promise<Uint8Array>;
  /** Something the operator should know (the login after RESET failed). */
  warn(message: string): void;
}

/** What the next replies from the server are, in order. */
type Expected =
  /** `count` replies for the client. */
  | { kind: "client"; count: number }
  /** The proxy's own answer, written when everything before it was. */
  | { kind: "local"; bytes: Uint8Array; close?: boolean }
  /** The reply to the client's HELLO: its type says the protocol now in force. */
  | { kind: "hello"; previous: 2 | 3 }
  /** The reply to the proxy's own command: not the client's; an error ends the session. */
  | { kind: "own" }
  /**
   * From here on replies cannot be counted. A `reset` after it waits for the server's "+RESET",
   * which ends that; a `local` after it is written at once.
   */
  | { kind: "uncountable" }
  /** The client's RESET: its "+RESET" reply. */
  | { kind: "reset" };

/** Bytes handed to a stream and not yet sent past which the other side stops being read. */
const HIGH_WATER = 1024 * 1024;

const encoder = new TextEncoder();

export class RedisSession {
  readonly #reader = new CommandReader((name) => WATCHED.has(name));
  readonly #scanner = new ReplyScanner();
  readonly #expected: Expected[] = [];
  #events: CommandEvent[] = [];
  /** A login of the proxy's own is being prepared: commands after it wait. */
  #blocked = false;
  /** The protocol the server will use for the next command forwarded (the client's HELLO changes it). */
  #tailProtocol: 2 | 3 = 2;
  /** Commands forwarded from here on have replies that cannot be counted (until a RESET). */
  #tailUncountable = false;
  /** The reply of the proxy's own command, held until it is whole (it may be a push for the client). */
  #ownPartial: Uint8Array[] = [];
  #closed = false;
  readonly #toServer: Outbox;
  readonly #toClient: Outbox;

  constructor(
    private readonly client: Stream,
    private readonly server: Stream,
    private readonly options: RedisSessionOptions,
  ) {
    this.#toServer = new Outbox(server, client);
    this.#toClient = new Outbox(client, server);
  }

  /** Starts relaying; `early` is what the server sent after the proxy's login reply. */
  start(early?: Uint8Array): void {
    this.client.onData = (bytes) => {
      if (this.#closed) return;
      const events = this.#reader.push(bytes);
      for (const e of events) this.#events.push(e);
      this.#pump();
    };
    this.server.onData = (bytes) => this.#fromServer(bytes);
    this.client.onEnd = () => this.server.end();
    this.server.onEnd = () => this.#finish();
    this.client.onClose = () => this.#close();
    this.server.onClose = () => this.#finish();
    if (early?.length) this.#fromServer(early);
    this.client.resume();
    this.server.resume();
  }

  #pump(): void {
    while (!this.#blocked && !this.#closed && this.#events.length > 0) {
      const event = this.#events.shift()!;
      this.#handle(event);
    }
  }

  #handle(event: CommandEvent): void {
    if (event.kind === "forward") {
      if (event.bytes.length > 0) this.#toServer.write(event.bytes);
      if (event.commands > 0) this.#expectClient(event.commands);
      return;
    }
    if (event.kind === "error") {
      this.#answer(`-ERR Protocol error: ${event.message}\r\n`, true);
      return;
    }
    const { name, args, raw } = event;
    try {
      switch (name) {
        case "AUTH":
          this.#answer(this.#authAnswer(args));
          return;
        case "HELLO":
          this.#hello(args, raw);
          return;
        case "RESET":
          this.#forward(raw, { kind: "reset" });
          this.#reset();
          return;
        case "MONITOR":
          this.#forward(raw, { kind: "client", count: 1 });
          this.#uncountable();
          return;
        case "CLIENT": {
          const sub = upper(args[1]);
          const mode = upper(args[2]);
          if (sub === "REPLY" && (mode === "OFF" || mode === "SKIP") && args.length === 3) {
            // Neither has a reply of its own; what follows may have none.
            this.#uncountable();
            this.#forward(raw, null);
          } else this.#forward(raw, { kind: "client", count: 1 });
          return;
        }
        case "SYNC":
        case "PSYNC":
          this.#answer("-ERR credagent: replication through the database proxy is not supported; connect the replica to the server\r\n");
          return;
        default: {
          // The (un)subscribe family. In RESP3 their confirmations are pushes, not replies (but a
          // SUBSCRIBE with no channel is an error reply); in RESP2 they are replies, one per
          // channel, and the messages that follow cannot be told from replies.
          if (this.#tailProtocol === 3) {
            const answered = SUBSCRIBE.has(name) && args.length < 2;
            this.#forward(raw, answered ? { kind: "client", count: 1 } : null);
          } else {
            this.#uncountable();
            this.#forward(raw, null);
          }
        }
      }
    } finally {
      // The client's command was read whole; an AUTH held its password.
      for (const a of args) a.fill(0);
      raw.fill(0);
    }
  }

  /** The client's AUTH: answered here, never forwarded. */
  #authAnswer(args: Uint8Array[]): string {
    if (args.length < 2) return "-ERR wrong number of arguments for 'auth' command\r\n";
    if (args.length > 3) return "-ERR syntax error\r\n";
    if (args.length === 3 && !this.#acceptsUser(args[1]!)) return this.#refusal(args[1]!);
    return "+OK\r\n";
  }

  #acceptsUser(name: Uint8Array): boolean {
    const user = new TextDecoder().decode(name);
    return user === this.options.user || user === "default";
  }

  #refusal(name: Uint8Array): string {
    const asked = printable(new TextDecoder().decode(name));
    return `-WRONGPASS credagent: this socket logs in as '${printable(this.options.user)}', not '${asked}'; send no AUTH (any password is accepted for that user)\r\n`;
  }

  /** HELLO [protover [AUTH user pass] [SETNAME name]]: its AUTH is checked here and left out. */
  #hello(args: Uint8Array[], raw: Uint8Array): void {
    const kept: Uint8Array[] = [args[0]!];
    let auth: Uint8Array | null = null;
    let protocol: 2 | 3 | null = null;
    if (args.length > 1) {
      kept.push(args[1]!);
      const version = new TextDecoder().decode(args[1]);
      if (version === "2" || version === "3") protocol = version === "2" ? 2 : 3;
    }
    for (let i = 2; i < args.length; i++) {
      const option = upper(args[i]);
      if (option === "AUTH" && i + 2 < args.length) {
        auth = args[i + 1]!;
        i += 2;
      } else if (option === "SETNAME" && i + 1 < args.length) {
        kept.push(args[i]!, args[i + 1]!);
        i += 1;
      } else {
        this.#answer(`-ERR Syntax error in HELLO option '${printable(new TextDecoder().decode(args[i]))}'\r\n`);
        return;
      }
    }
    if (auth && !this.#acceptsUser(auth)) {
      this.#answer(this.#refusal(auth));
      return;
    }
    const previous = this.#tailProtocol;
    if (protocol) this.#tailProtocol = protocol;
    this.#forward(auth ? multibulk(kept) : raw, { kind: "hello", previous });
  }

  /** After the client's RESET the server has logged the connection out: the proxy logs in again before anything else. */
  #reset(): void {
    this.#tailProtocol = 2;
    this.#tailUncountable = false;
    this.#blocked = true;
    this.options.loginCommand().then(
      (command) => {
        if (this.#closed) return command.fill(0);
        this.#toServer.write(command, () => command.fill(0));
        this.#expected.push({ kind: "own" });
        this.#blocked = false;
        this.#pump();
      },
      (err: unknown) => {
        this.options.warn(`the login again after RESET failed: ${err instanceof Error ? err.message : String(err)}`);
        this.#blocked = false;
        this.#answer(`-ERR credagent: ${printable(err instanceof Error ? err.message : String(err))}\r\n`, true);
      },
    );
  }

  #forward(bytes: Uint8Array, expect: Expected | null): void {
    // The caller zeroes the command it read: what is written is a copy.
    this.#toServer.write(bytes.slice());
    if (expect && !(this.#tailUncountable && expect.kind === "client")) this.#expected.push(expect);
  }

  #expectClient(count: number): void {
    if (this.#tailUncountable) return;
    const last = this.#expected[this.#expected.length - 1];
    if (last?.kind === "client") last.count += count;
    else this.#expected.push({ kind: "client", count });
  }

  #uncountable(): void {
    if (this.#tailUncountable) return;
    this.#tailUncountable = true;
    this.#expected.push({ kind: "uncountable" });
  }

  /** The proxy's own answer, after the replies to every command sent before it. */
  #answer(text: string, close = false): void {
    this.#expected.push({ kind: "local", bytes: encoder.encode(text), close });
    this.#flushLocal();
  }

  /** Writes the proxy's answers that nothing comes before any more. */
  #flushLocal(): void {
    for (;;) {
      const front = this.#expected[0];
      if (front?.kind === "local") {
        this.#expected.shift();
        this.#writeLocal(front);
        continue;
      }
      const next = this.#expected[1];
      if (front?.kind === "uncountable" && next?.kind === "local") {
        this.#expected.splice(1, 1);
        this.#writeLocal(next);
        continue;
      }
      return;
    }
  }

  #writeLocal(entry: { bytes: Uint8Array; close?: boolean }): void {
    this.#toClient.write(entry.bytes);
    if (entry.close) {
      this.#closed = true;
      this.client.end({ linger: true });
      this.server.destroy();
    }
  }

  /**
   * The server's bytes go to the client as they came, in as few writes as the replies allow: one
   * per chunk, unless a reply of the proxy's own is taken out or an answer of its own goes in.
   */
  #fromServer(chunk: Uint8Array): void {
    let at = 0;
    let from = 0;
    const pass = (to: number) => {
      if (to > from) this.#toClient.write(chunk.subarray(from, to));
      from = to;
    };
    while (at < chunk.length && !this.#closed) {
      if (this.#localDue()) {
        pass(at);
        this.#flushLocal();
        continue;
      }
      const front = this.#expected[0];
      const step = this.#scanner.scan(chunk, at);
      if (step.kind === "error") {
        pass(at);
        return this.#serverBroken(step.message);
      }
      const end = step.kind === "more" ? chunk.length : step.end;
      if (front?.kind === "own") {
        pass(at);
        this.#ownPartial.push(chunk.slice(at, end));
        at = from = end;
        if (step.kind === "reply") this.#ownReply(step.reply);
        continue;
      }
      at = end;
      if (step.kind === "more") break;
      // Nothing expected (a reply the proxy does not know of) or nothing countable: passed on,
      // but still scanned, to find the "+RESET" a RESET waits for.
      if (!front || front.kind === "uncountable") {
        if (front && this.#expected[1]?.kind === "reset" && step.reply.type === 0x2b && step.reply.text === "RESET")
          this.#expected.splice(0, 2);
        continue;
      }
      if (step.reply.push) continue;
      this.#replied(front, step.reply);
    }
    pass(at);
    this.#flushLocal();
  }

  /** An answer of the proxy's own is next: nothing the server owes comes before it. */
  #localDue(): boolean {
    const front = this.#expected[0];
    return front?.kind === "local" || (front?.kind === "uncountable" && this.#expected[1]?.kind === "local");
  }

  #replied(front: Expected, reply: Reply): void {
    if (front.kind === "client") {
      front.count--;
      if (front.count > 0) return;
    } else if (front.kind === "hello") {
      // A refused HELLO leaves the protocol as it was (a server older than 6 knows no HELLO).
      if (reply.type === 0x2d && !this.#expected.some((e, i) => i > 0 && (e.kind === "hello" || e.kind === "reset")))
        this.#tailProtocol = front.previous;
    }
    this.#expected.shift();
  }

  #ownReply(reply: Reply): void {
    const bytes = this.#ownPartial;
    this.#ownPartial = [];
    if (reply.push) {
      for (const b of bytes) this.#toClient.write(b);
      return;
    }
    this.#expected.shift();
    if (reply.type === 0x2d) {
      this.options.warn(`the server refused the login again after RESET: ${reply.text}`);
      this.#expected.unshift({
        kind: "local",
        bytes: encoder.encode(`-ERR credagent: the server refused the login again after RESET\r\n`),
        close: true,
      });
    }
  }

  #serverBroken(message: string): void {
    this.options.warn(`the Redis server's replies could not be read: ${message}`);
    this.#close();
  }

  /** The server is done: what it sent (and the proxy's answers due) goes out, then the client is closed. */
  #finish(): void {
    if (this.#closed) return;
    this.#flushLocal();
    this.#closed = true;
    this.#reader.wipe();
    this.client.end();
  }

  /** The client is gone (or the server's bytes cannot be read): both ends close now. */
  #close(): void {
    this.#closed = true;
    this.#events = [];
    this.#reader.wipe();
    this.server.destroy();
    this.client.destroy();
  }
}

/**
 * Writes to one stream, and stops reading the other while more than HIGH_WATER bytes wait to be
 * sent: a slow reader on one side holds the other side's sender back, not the agent's memory.
 * No callback per write unless the bytes are to be zeroed once sent (node:net pays for each).
 */
class Outbox {
  #paused = false;

  constructor(
    private readonly to: Stream,
    private readonly from: Stream,
  ) {}

  write(bytes: Uint8Array, written?: () => void): void {
    if (bytes.length === 0) return written?.();
    this.to.write(bytes, written);
    if (!this.#paused && this.to.pendingBytes > HIGH_WATER) {
      this.#paused = true;
      this.from.pause();
      this.to.onDrain = () => {
        if (!this.#paused) return;
        this.#paused = false;
        this.from.resume();
      };
    }
  }
}

/** A command as the server reads it: `*N` then each argument as a bulk string. */
export function multibulk(args: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
  for (const a of args) parts.push(encoder.encode(`$${a.length}\r\n`), a, encoder.encode("\r\n"));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function upper(bytes: Uint8Array | undefined): string {
  return bytes ? new TextDecoder().decode(bytes).toUpperCase() : "";
}

/** Text safe inside a one-line error reply. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}
