import type { Token } from "../sources/source.ts";
import { ValueRefused } from "./escape.ts";
import { renderPieces, type Piece } from "./formats.ts";
import type { Reference } from "./template.ts";

// A template's values from the tokens held: `{{ NAME }}` is the token or password, `{{ NAME.PART }}`
// one part, `{{ conn.NAME }}` a connection string. A credential with no valid token makes the file
// wait (it is written once every value is there); a part the token lacks is refused with why.

/** Where the values come from: the tokens held now, and the connections' rendering. */
export interface ValueSource {
  token(credential: string): Token | undefined;
  connection(name: string, token: Token): string;
  /** The credential a connection is filled from. */
  credentialOf(connection: string): string;
}

/** A credential the file needs holds no valid token yet: the file is written when it does. */
export class ValueMissing extends Error {
  override name = "ValueMissing";
  constructor(readonly credential: string) {
    super(`waiting for a valid token of the credential '${credential}'`);
  }
}

/** One reference's value; `blank`: every secret as "" (a kept file after lock), user names kept. */
export function valueOf(ref: Reference, values: ValueSource, blank: boolean): string {
  const credential = ref.kind === "connection" ? values.credentialOf(ref.connection) : ref.credential;
  const token = values.token(credential);
  if (blank) return ref.kind === "credential" && ref.part === "username" ? (token?.username ?? "") : "";
  if (!token) throw new ValueMissing(credential);
  if (ref.kind === "connection") return values.connection(ref.connection, token);
  const aws = token.kind === "aws";
  switch (ref.part) {
    case undefined:
      if (aws)
        throw new ValueRefused(
          `the credential '${credential}' is an AWS key, not one secret: use {{ ${credential}.access_key_id }}, {{ ${credential}.secret_access_key }} and {{ ${credential}.session_token }}`,
        );
      return token.value.reveal();
    case "username":
      if (token.username === undefined)
        throw new ValueRefused(`the credential '${credential}' gave no user name; set username = "…" on it`);
      return token.username;
    case "password":
    case "token":
      if (aws) throw new ValueRefused(`the credential '${credential}' is an AWS key: it has no ${ref.part}`);
      return token.value.reveal();
    case "access_key_id":
    case "secret_access_key":
    case "session_token": {
      if (!aws || !token.aws) throw new ValueRefused(`the credential '${credential}' is not an AWS key: it has no ${ref.part}`);
      if (ref.part === "access_key_id") return token.aws.accessKeyId;
      if (ref.part === "secret_access_key") return token.value.reveal();
      if (!token.aws.sessionToken) throw new ValueRefused(`the credential '${credential}' has no session token (a long-term key)`);
      return token.aws.sessionToken.reveal();
    }
  }
}

/** The file's text from a compiled template. */
export function renderTemplate(pieces: Piece[], values: ValueSource, blank = false): string {
  return renderPieces(pieces, (ref) => valueOf(ref, values, blank));
}
