import { expect, test } from "bun:test";
import { Secret } from "../../../src/secret.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import { LazyStore, StoreLockedError } from "../../../src/store/open.ts";
import { WrongPassphraseError } from "../../../src/store/wrong-passphrase.ts";

// A fake file store: opens with "right", refuses other passphrases, waits without one.
function fileLike() {
  const backing = new MemoryStore();
  const seen: string[] = [];
  let gate: Promise<void> | undefined;
  const lazy = new LazyStore(
    async (given) => {
      await gate;
      if (!given) throw new StoreLockedError("/store", true);
      seen.push(given.reveal());
      if (given.reveal() !== "right") throw new WrongPassphraseError("store_unavailable", "wrong passphrase");
      return { store: backing, why: 'keyring = "file"' };
    },
    { waiting: true },
  );
  return { lazy, seen, hold: (p: Promise<void> | undefined) => (gate = p) };
}

const codeOf = async (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (err: { code?: string }) => err.code,
  );

test("a store waiting for its passphrase is locked, refuses a wrong one with forbidden, opens with the right one", async () => {
  const { lazy, seen } = fileLike();
  expect(lazy.status().state).toBe("locked");
  expect(await codeOf(lazy.get("secret:a"))).toBe("locked");

  const wrong = new Secret("wrong");
  expect(await codeOf(lazy.unlock(wrong))).toBe("forbidden");
  expect(wrong.wiped).toBe(true);
  expect(lazy.status().state).toBe("locked");
  // The wrong one is not kept: the next use has no passphrase again.
  expect(await codeOf(lazy.get("secret:a"))).toBe("locked");
  expect(seen).toEqual(["wrong"]);

  const right = new Secret("right");
  await lazy.unlock(right);
  expect(right.wiped).toBe(true);
  expect(lazy.status().state).toBe("open");
  expect(await lazy.get("secret:a")).toBeNull();

  // Kept for reopening after an agent lock closed the store.
  lazy.close();
  expect(await lazy.get("secret:a")).toBeNull();
  expect(seen).toEqual(["wrong", "right", "right"]);
  expect(await codeOf(lazy.unlock(new Secret("right")))).toBe("bad_request");
});

test("an attempt while another is being checked is refused at once, not queued", async () => {
  let release!: () => void;
  const f = fileLike();
  f.hold(new Promise<void>((r) => (release = r)));
  const first = f.lazy.unlock(new Secret("right"));
  const second = new Secret("other");
  expect(await codeOf(f.lazy.unlock(second))).toBe("too_many_attempts");
  expect(second.wiped).toBe(true);
  release();
  await first;
  expect(f.lazy.status().state).toBe("open");
  // A store that never waited (the OS keyring, or a passphrase from the environment) takes none.
  const plain = new LazyStore(async () => ({ store: new MemoryStore(), why: "test" }));
  expect(plain.status().state).toBe("closed");
  expect(await codeOf(plain.unlock(new Secret("x")))).toBe("bad_request");
});
