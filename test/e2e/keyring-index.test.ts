import { afterAll, expect, test } from "bun:test";
import { INDEX_ACCOUNT, OsKeyringStore } from "../../src/store/keyring.ts";
import { Secret } from "../../src/secret.ts";
import { secretServiceAvailable, secretTool } from "./harness.ts";

// The keyring store's own index of accounts (on by default on Windows, where the library's listing
// finds nothing under Wine), against the real Secret Service with the library's listing switched
// off: whatever entries() finds here, it found through the index. A service name of its own.
const enabled = secretServiceAvailable();
const service = `credagent-index-${Math.random().toString(36).slice(2, 10)}`;
const secret = (s: string) => new Secret(new TextEncoder().encode(s));
const text = (s: Secret | undefined) => (s ? new TextDecoder().decode(s.bytes()) : undefined);

afterAll(() => {
  if (!enabled) return;
  secretTool(["clear", "service", service]);
});

test.if(enabled)(
  "with an index, entries() lists what was set and not what was deleted, the index itself hidden; a damaged index is rebuilt by the next write",
  async () => {
    const store = await OsKeyringStore.open(service, { index: true, enumerate: false });
    expect((await store.entries()).size).toBe(0);
    await store.set("secret:a", secret("va"));
    await store.set("token:b", secret("vb"));
    await store.set("secret:a", secret("va2")); // a rewrite: the index stays as it was
    let entries = await store.entries();
    expect([...entries.keys()].sort()).toEqual(["secret:a", "token:b"]);
    expect(text(entries.get("secret:a"))).toBe("va2");
    expect(JSON.parse(secretTool(["lookup", "service", service, "username", INDEX_ACCOUNT]).stdout)).toEqual(["secret:a", "token:b"]);

    expect(await store.delete("secret:a")).toBe(true);
    entries = await store.entries();
    expect([...entries.keys()]).toEqual(["token:b"]);

    // An entry deleted behind the store's back (another program) is skipped, not an error.
    secretTool(["clear", "service", service, "username", "token:b"]);
    expect((await store.entries()).size).toBe(0);

    // A damaged index lists nothing and does not fail; the next write starts it again.
    expect(secretTool(["store", "--label=x", "service", service, "username", INDEX_ACCOUNT], "{not json").code).toBe(0);
    expect((await store.entries()).size).toBe(0);
    await store.set("secret:c", secret("vc"));
    expect([...(await store.entries()).keys()]).toEqual(["secret:c"]);

    // With the library's listing on as well (Linux, macOS), the index entry is never listed as an account.
    const both = await OsKeyringStore.open(service, { index: true });
    expect([...(await both.entries()).keys()]).toEqual(["secret:c"]);
  },
);
