import { parseConfig } from "../../src/config/load.ts";

/** The message a config is rejected with, or "" when it is accepted. */
export function configError(toml: string): string {
  try {
    parseConfig(toml, "/c.toml");
  } catch (err) {
    return (err as Error).message;
  }
  return "";
}
