// Writes one entry of a file store over and over until killed (for the crash test).
import { Secret } from "../../src/secret.ts";
import { FileStore } from "../../src/store/file.ts";

const [dir, passphrase] = process.argv.slice(2);
const store = await FileStore.open(dir!, new Secret(passphrase!));
process.stdout.write("writing\n");
for (let i = 1; ; i++) await store.set("secret:k", new Secret(`v${i}`));
