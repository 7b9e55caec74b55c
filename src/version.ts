// Replaced at build time by `bun build --define`; the fallback serves `bun run` in development.
declare const CREDAGENT_VERSION: string | undefined;
export const VERSION: string = typeof CREDAGENT_VERSION === "string" ? CREDAGENT_VERSION : "0.1.0-dev";
