import { CredagentError } from "../errors.ts";

/**
 * The passphrase does not open the file store's key (or the key file is damaged). Its own module so
 * that telling it apart (`credagent unlock` answers 403) does not load the file store's JOSE code.
 */
export class WrongPassphraseError extends CredagentError {}
