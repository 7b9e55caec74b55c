import { dlopen, FFIType, ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import { CredagentError } from "../errors.ts";

// MIT GSS-API (libgssapi_krb5) through bun:ffi, the initiator side only: a security context toward a
// service with the tickets of one credential cache, then wrap/unwrap of messages under it. The
// cache handed in holds the service ticket already (src/kerberos/ gets it from the worker thread),
// so none of these calls waits on a KDC: they run on the agent's main thread.
//
// Layouts (LP64): gss_buffer_desc and gss_OID_desc are {length, pointer} in 16 bytes (an OID's
// length is 32-bit, padded); gss_key_value_set_desc is {count (32-bit), elements}; an element is
// {key, value}, two C strings.

const LIBRARY: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ["libgssapi_krb5.so.2", "libgssapi_krb5.so"],
  freebsd: ["libgssapi_krb5.so.2"],
};

const { i32, u32, ptr: p } = FFIType;
const symbols = {
  gss_import_name: { args: [p, p, p, p], returns: u32 },
  gss_release_name: { args: [p, p], returns: u32 },
  gss_acquire_cred_from: { args: [p, p, u32, p, i32, p, p, p, p], returns: u32 },
  gss_release_cred: { args: [p, p], returns: u32 },
  gss_init_sec_context: { args: [p, p, p, p, p, u32, u32, p, p, p, p, p, p], returns: u32 },
  gss_delete_sec_context: { args: [p, p, p], returns: u32 },
  gss_wrap: { args: [p, p, i32, u32, p, p, p], returns: u32 },
  gss_unwrap: { args: [p, p, p, p, p, p], returns: u32 },
  gss_wrap_size_limit: { args: [p, p, i32, u32, u32, p], returns: u32 },
  gss_release_buffer: { args: [p, p], returns: u32 },
  gss_display_status: { args: [p, u32, i32, p, p, p], returns: u32 },
} as const;

type Lib = ReturnType<typeof dlopen<typeof symbols>>["symbols"];
let loaded: Lib | undefined;

function lib(): Lib {
  if (loaded) return loaded;
  const names = LIBRARY[process.platform];
  if (!names) throw new CredagentError("not_implemented", `GSS-API through MIT libgssapi_krb5 is not implemented on ${process.platform}`);
  let lastError: unknown;
  for (const name of names) {
    try {
      loaded = dlopen(name, symbols).symbols;
      return loaded;
    } catch (err) {
      lastError = err;
    }
  }
  throw new CredagentError(
    "not_implemented",
    `cannot load MIT GSS-API (${names.join(", ")}); install it (Debian: apt-get install libgssapi-krb5-2)`,
    { cause: lastError },
  );
}

export const GSS_FLAGS = { mutual: 2, replay: 4, sequence: 8, conf: 16, integ: 32 } as const;
const GSS_C_INITIATE = 1;
const GSS_C_GSS_CODE = 1;
const GSS_C_MECH_CODE = 2;
const GSS_S_CONTINUE_NEEDED = 1;

/** 1.2.840.113554.1.2.2.1: a Kerberos principal name ("service/host@REALM"). */
const KRB5_NT_PRINCIPAL_NAME = Buffer.from([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01]);
const principalNameOid = oidDesc(KRB5_NT_PRINCIPAL_NAME);
/** 1.3.6.1.5.5.2: SPNEGO, the mechanism of HTTP's Negotiate (RFC 4559); by default the Kerberos mechanism itself. */
const SPNEGO = Buffer.from([0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]);
const spnegoOid = oidDesc(SPNEGO);

function oidDesc(elements: Buffer): { desc: Buffer; keep: Buffer } {
  const desc = Buffer.alloc(16);
  desc.writeUInt32LE(elements.length, 0);
  desc.writeBigUInt64LE(BigInt(ptr(elements)), 8);
  return { desc, keep: elements };
}

/** A gss_buffer_desc pointing at bytes the caller keeps alive for the call. */
function bufferDesc(bytes: Uint8Array): Buffer {
  const desc = Buffer.alloc(16);
  desc.writeBigUInt64LE(BigInt(bytes.byteLength), 0);
  if (bytes.byteLength > 0) desc.writeBigUInt64LE(BigInt(ptr(bytes)), 8);
  return desc;
}

/** The bytes of a library-allocated gss_buffer_desc, copied, then the library's copy released. */
function takeBuffer(desc: Buffer): Uint8Array {
  const length = Number(desc.readBigUInt64LE(0));
  const at = Number(desc.readBigUInt64LE(8)) as Pointer;
  const bytes = length > 0 && at ? new Uint8Array(toArrayBuffer(at, 0, length)).slice() : new Uint8Array(0);
  const minor = new Uint32Array(1);
  if (at) lib().gss_release_buffer(minor, desc);
  return bytes;
}

function failed(major: number): boolean {
  return (major & 0xffff0000) !== 0;
}

/** The library's words for a status: the GSS routine's, then the mechanism's (Kerberos). */
function statusText(major: number, minor: number): string {
  const parts: string[] = [];
  for (const [code, type] of [
    [major, GSS_C_GSS_CODE],
    [minor, GSS_C_MECH_CODE],
  ] as const) {
    if (code === 0) continue;
    const context = new Uint32Array(1);
    for (let i = 0; i < 4; i++) {
      const out = Buffer.alloc(16);
      const m = new Uint32Array(1);
      if (failed(lib().gss_display_status(m, code, type, null, context, out))) break;
      const text = new TextDecoder().decode(takeBuffer(out));
      if (text) parts.push(text);
      if (context[0] === 0) break;
    }
  }
  return parts.join(": ") || `GSS-API status ${major}/${minor}`;
}

export class GssError extends Error {
  constructor(
    readonly major: number,
    readonly minor: number,
    what: string,
  ) {
    super(`${what}: ${statusText(major, minor)}`);
    this.name = "GssError";
  }
}

/**
 * An initiator's security context toward `target` (a Kerberos principal name) with the tickets in
 * the credential cache `ccache`. step() until complete; dispose() always.
 */
export class GssInitiator {
  readonly #lib = lib();
  readonly #context = new BigUint64Array(1);
  readonly #cred = new BigUint64Array(1);
  readonly #name = new BigUint64Array(1);
  readonly #flags: number;
  readonly #mech: Buffer | null;
  #complete = false;

  constructor(ccache: string, target: string, flags: number, mech: "krb5" | "spnego" = "krb5") {
    this.#flags = flags;
    this.#mech = mech === "spnego" ? spnegoOid.desc : null;
    const minor = new Uint32Array(1);
    const targetBytes = Buffer.from(target);
    let major = this.#lib.gss_import_name(minor, bufferDesc(targetBytes), principalNameOid.desc, this.#name);
    if (failed(major)) throw new GssError(major, minor[0]!, `'${target}' is not a service principal name`);
    const key = Buffer.from("ccache\0");
    const value = Buffer.from(`${ccache}\0`);
    const element = Buffer.alloc(16);
    element.writeBigUInt64LE(BigInt(ptr(key)), 0);
    element.writeBigUInt64LE(BigInt(ptr(value)), 8);
    const store = Buffer.alloc(16);
    store.writeUInt32LE(1, 0);
    store.writeBigUInt64LE(BigInt(ptr(element)), 8);
    major = this.#lib.gss_acquire_cred_from(minor, null, 0, null, GSS_C_INITIATE, store, this.#cred, null, null);
    if (failed(major)) {
      this.dispose();
      throw new GssError(major, minor[0]!, `no Kerberos credentials in ${ccache}`);
    }
  }

  get complete(): boolean {
    return this.#complete;
  }

  /** One round of the exchange: the token to send (maybe empty), and whether the context is complete. */
  step(input?: Uint8Array): { token: Uint8Array; complete: boolean } {
    const minor = new Uint32Array(1);
    const output = Buffer.alloc(16);
    const inputDesc = input ? bufferDesc(input) : null;
    const major = this.#lib.gss_init_sec_context(
      minor,
      Number(this.#cred[0]!) as Pointer,
      this.#context,
      Number(this.#name[0]!) as Pointer,
      this.#mech,
      this.#flags,
      0,
      null,
      inputDesc,
      null,
      output,
      null,
      null,
    );
    const token = takeBuffer(output);
    if (failed(major)) throw new GssError(major, minor[0]!, "the GSS-API exchange with the server failed");
    this.#complete = (major & GSS_S_CONTINUE_NEEDED) === 0;
    // The context holds its keys now: the credentials (and the cache they were read from) can go.
    if (this.#complete) this.#releaseCredentials();
    return { token, complete: this.#complete };
  }

  /** A message sealed (encrypted and integrity-protected) under the context. */
  wrap(message: Uint8Array): Uint8Array {
    const minor = new Uint32Array(1);
    const confState = new Int32Array(1);
    const output = Buffer.alloc(16);
    const major = this.#lib.gss_wrap(minor, this.#handle(), 1, 0, bufferDesc(message), confState, output);
    const sealed = takeBuffer(output);
    if (failed(major)) throw new GssError(major, minor[0]!, "cannot encrypt a message for the server");
    if (confState[0] !== 1) throw new GssError(0, 0, "the GSS-API context does not encrypt");
    return sealed;
  }

  /** A sealed message opened; one that was not encrypted is refused. */
  unwrap(sealed: Uint8Array): Uint8Array {
    const minor = new Uint32Array(1);
    const confState = new Int32Array(1);
    const output = Buffer.alloc(16);
    const major = this.#lib.gss_unwrap(minor, this.#handle(), bufferDesc(sealed), output, confState, null);
    const message = takeBuffer(output);
    if (failed(major)) throw new GssError(major, minor[0]!, "cannot decrypt a message from the server");
    if (confState[0] !== 1) throw new GssError(0, 0, "the server sent a message that was not encrypted");
    return message;
  }

  /** The largest message whose sealed form fits in `outputSize` bytes. */
  wrapSizeLimit(outputSize: number): number {
    const minor = new Uint32Array(1);
    const max = new Uint32Array(1);
    const major = this.#lib.gss_wrap_size_limit(minor, this.#handle(), 1, 0, outputSize, max);
    if (failed(major)) throw new GssError(major, minor[0]!, "cannot size encrypted messages");
    return max[0]!;
  }

  #handle(): Pointer {
    if (!this.#complete) throw new CredagentError("internal", "the GSS-API context is not established");
    return Number(this.#context[0]!) as Pointer;
  }

  #releaseCredentials(): void {
    const minor = new Uint32Array(1);
    if (this.#cred[0]) this.#lib.gss_release_cred(minor, this.#cred);
    if (this.#name[0]) this.#lib.gss_release_name(minor, this.#name);
    this.#cred[0] = 0n;
    this.#name[0] = 0n;
  }

  dispose(): void {
    const minor = new Uint32Array(1);
    if (this.#context[0]) this.#lib.gss_delete_sec_context(minor, this.#context, null);
    this.#context[0] = 0n;
    this.#complete = false;
    this.#releaseCredentials();
  }
}
