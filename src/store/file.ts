import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
  constants,
} from "node:fs";
import { join } from "node:path";
import { CredagentError } from "../errors.ts";
import { Secret } from "../secret.ts";
import { openDirect, openWithPassphrase, sealDirect, sealWithPassphrase } from "./jwe.ts";
import { ENTRY_SUFFIX, FILE_STORE_KEY, fileEntryName, fileStoreDescription } from "./store.ts";
import type { SecretStore } from "./store.ts";
import { WrongPassphraseError } from "./wrong-passphrase.ts";
import { capabilities } from "../platform/os.ts";

// The encrypted file store for machines with no OS keyring (as aws-vault's `file` backend).
// PBES2 with a high iteration count costs ~0.4 s per use, so it is paid once: the passphrase
// unwraps a random 256-bit key (key.jwe, PBES2-HS512+A256KW / A256GCM), and each entry is its
// own file, encrypted under that key (dir / A256GCM) with its account name in the protected
// header, so a file moved onto another entry's name does not decrypt as that entry. The JWEs are
// sealed and opened by jwe.ts (node:crypto), whose buffers are zeroed: the runtime's WebCrypto,
// which jose uses, left copies of the plaintext and the passphrase in memory.

const P2C = 600_000;
const KEY_FILE = FILE_STORE_KEY;

export class FileStore implements SecretStore {
  readonly backend = "file" as const;
  readonly description: string;
  #closed = false;

  private constructor(
    private readonly dir: string,
    private readonly key: Uint8Array,
  ) {
    this.description = fileStoreDescription(dir);
  }

  /** Opens the store at dir with the passphrase, creating it (and its key) if it does not exist. */
  static async open(dir: string, passphrase: Secret): Promise<FileStore> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    removeAbandonedTemps(dir);
    const keyPath = join(dir, KEY_FILE);
    // The key derivation copies the passphrase into a buffer of its own, zeroed once used (jwe.ts).
    return FileStore.#open(dir, keyPath, passphrase.bytes());
  }

  static async #open(dir: string, keyPath: string, pass: Uint8Array): Promise<FileStore> {
    let jwe: string | undefined;
    try {
      jwe = readFileSync(keyPath, "utf8").trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw storeError(dir, `cannot read ${keyPath}`, err);
    }
    if (jwe === undefined) {
      const key = crypto.getRandomValues(new Uint8Array(new ArrayBuffer(32)));
      const wrapped = await sealWithPassphrase(pass, key, P2C, { cty: "credagent-key" });
      // Two processes creating the store at once (the agent and `credagent secret set`) must not
      // each keep a key of their own: the second finds the first's key and takes it.
      if (!createOnce(dir, KEY_FILE, wrapped)) {
        key.fill(0);
        return FileStore.#open(dir, keyPath, pass);
      }
      return new FileStore(dir, key);
    }
    try {
      const plaintext = await openWithPassphrase(pass, jwe, P2C);
      if (plaintext.length !== 32) {
        plaintext.fill(0);
        throw new Error("the key has the wrong length");
      }
      return new FileStore(dir, plaintext);
    } catch (err) {
      throw new WrongPassphraseError(
        "store_unavailable",
        `cannot unlock the encrypted file store at ${dir}: wrong passphrase, or ${KEY_FILE} is damaged; ` +
          "check CREDAGENT_FILE_PASSPHRASE (or the passphrase file in the config)",
        { cause: err },
      );
    }
  }

  async get(account: string): Promise<Secret | null> {
    let jwe: string;
    try {
      jwe = readFileSync(this.#path(account), "utf8").trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw storeError(this.dir, `cannot read the entry '${account}'`, err);
    }
    return new Secret(await this.#decrypt(account, jwe));
  }

  async set(account: string, value: Secret): Promise<void> {
    this.#assertOpen();
    const jwe = sealDirect(this.key, value.bytes(), { cty: "credagent-entry", acct: account });
    // Closed while encrypting: the key may be zeros by now, and nothing sealed with it is written.
    this.#assertOpen();
    atomicWrite(this.dir, fileEntryName(account), jwe);
  }

  close(): void {
    this.#closed = true;
    this.key.fill(0);
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new CredagentError("locked", "the encrypted file store was closed (the agent was locked); unlock the agent first");
  }

  async delete(account: string): Promise<boolean> {
    try {
      unlinkSync(this.#path(account));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw storeError(this.dir, `cannot delete the entry '${account}'`, err);
    }
  }

  async entries(): Promise<Map<string, Secret>> {
    const out = new Map<string, Secret>();
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith(ENTRY_SUFFIX) || name === KEY_FILE) continue;
      const account = Buffer.from(name.slice(0, -ENTRY_SUFFIX.length), "base64url").toString("utf8");
      const value = await this.get(account);
      if (value) out.set(account, value);
    }
    return out;
  }

  #path(account: string): string {
    return join(this.dir, fileEntryName(account));
  }

  async #decrypt(account: string, jwe: string): Promise<Uint8Array> {
    this.#assertOpen();
    try {
      const { plaintext, header } = openDirect(this.key, jwe);
      if (header.acct !== account) {
        plaintext.fill(0);
        throw new Error("the entry belongs to another account");
      }
      return plaintext;
    } catch (err) {
      // Closed meanwhile: the zeroed key fails the tag check; say why instead of "damaged".
      this.#assertOpen();
      throw new CredagentError(
        "store_unavailable",
        `the entry '${account}' in the encrypted file store at ${this.dir} is damaged or was tampered with; ` +
          `remove it ('credagent secret rm') and set it again`,
        { cause: err },
      );
    }
  }
}

const TEMP = /^\..+\.(\d+)\.[0-9a-f-]{36}\.tmp$/;

/** Temp files of writers that died mid-write (their pid is gone): never read, so removed. */
function removeAbandonedTemps(dir: string): void {
  for (const name of readdirSync(dir)) {
    const pid = TEMP.exec(name)?.[1];
    if (pid === undefined) continue;
    try {
      process.kill(Number(pid), 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") rmSync(join(dir, name), { force: true });
    }
  }
}

/**
 * Makes a rename in `dir` durable. Windows refuses a directory handle to FlushFileBuffers (EPERM);
 * there NTFS journals the rename itself, and the entry's own fsync before it is what keeps it whole.
 */
function syncDirectory(dir: string): void {
  if (!capabilities.directoryFsync) return;
  const dirFd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * Writes data to a temp file in dir, fsyncs it, lets `place` move it to `name` (false: another
 * process made it first, nothing written), then fsyncs the directory: a crash leaves the old
 * entry or the new one, never half of one. The temp file never outlives the call.
 */
function writeDurably(dir: string, name: string, data: string, place: (tmp: string, target: string) => boolean): boolean {
  const tmp = join(dir, `.${name}.${process.pid}.${crypto.randomUUID()}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    writeSync(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (!place(tmp, join(dir, name))) return false;
    syncDirectory(dir);
    return true;
  } catch (err) {
    throw storeError(dir, `cannot write ${name}`, err);
  } finally {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
  }
}

/** An entry written whole or not at all, replacing the one there. */
function atomicWrite(dir: string, name: string, data: string): void {
  writeDurably(dir, name, data, (tmp, target) => {
    renameSync(tmp, target);
    return true;
  });
}

/**
 * As atomicWrite, for a file that must not be replaced once there: false, with nothing written,
 * when another process made it first. The temp file is linked into place (a link fails where a
 * rename would replace); where hard links are not supported, it is renamed.
 */
function createOnce(dir: string, name: string, data: string): boolean {
  return writeDurably(dir, name, data, (tmp, target) => {
    try {
      linkSync(tmp, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return false;
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS" && code !== "EOPNOTSUPP") throw err;
      renameSync(tmp, target);
    }
    return true;
  });
}

function storeError(dir: string, what: string, cause: unknown): CredagentError {
  const code = (cause as NodeJS.ErrnoException).code;
  return new CredagentError("store_unavailable", `the encrypted file store at ${dir}: ${what}${code ? ` (${code})` : ""}`, { cause });
}
