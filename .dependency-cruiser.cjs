// The layering of src/ (STYLE.md's arrows), checked by the test command (test/unit/layering.test.ts
// runs depcruise with this file). A new arrow between rooms is a decision: change a rule here, in
// the same commit, saying why.
//
// From the bottom: errors, secret, wire, duration, version, time (base) <- native, paths <- platform,
// transport, identity, log, kerberos <- store <- sources <- config, refresh (the pure core) <-
// policy, connections, files <- admission <- http <- api, endpoints, dbproxy (front doors) <-
// agent (composition root); client <- cli; main.ts takes agent and cli.

const CORE = "^src/(sources|refresh|store|config)/";
const ABOVE_CORE = "^src/(agent|api|cli|client|endpoints|dbproxy|http|admission|files|connections|policy)/";
// Pure modules of higher rooms the core may read: template checking and escaping, allow rules.
const PURE_FOR_CORE = "^src/(connections/template|files/(formats|template|escape)|policy/rules)\\.ts$";
const LOW = "^src/(native|platform|transport|identity|log|kerberos|store|wire|time)/|^src/(errors|secret|secret-json|duration|version|exit-codes|paths)\\.ts$";
const HIGH = "^src/(agent|api|cli|client|endpoints|dbproxy|http|admission|files|connections|policy|refresh|sources|config)/";

module.exports = {
  forbidden: [
    { name: "no-circular", comment: "no import circles, between files or through dynamic imports", severity: "error", from: {}, to: { circular: true } },
    {
      name: "core-imports-no-feature",
      comment: "the pure core (sources, refresh, store, config) imports no feature room, no server, no CLI (only the pure modules named in PURE_FOR_CORE)",
      severity: "error",
      from: { path: CORE },
      to: { path: ABOVE_CORE, pathNot: PURE_FOR_CORE },
    },
    {
      name: "low-rooms-look-down",
      comment: "the OS rooms, logging, the store and the base never import a room above them",
      severity: "error",
      from: { path: LOW },
      to: { path: HIGH },
    },
    {
      name: "front-doors-take-admission",
      comment: "front doors are handed the admission step's Actor; they never read the peer themselves",
      severity: "error",
      from: { path: "^src/(api|endpoints|dbproxy|http)/" },
      to: { path: "^src/identity/(peer|identify|darwin|sock-diag|loopback-peer|socket-owner|process-info)\\.ts$" },
    },
    {
      name: "http-is-generic",
      comment: "the HTTP server imports nothing of the agent's: the admission step, identity's types, logging, transport and the base only",
      severity: "error",
      from: { path: "^src/http/" },
      to: { path: "^src/", pathNot: "^src/(http|admission|log|transport|time)/|^src/identity/actor\\.ts$|^src/(errors|wire|secret|secret-json)" },
    },
    {
      name: "api-is-runtime-free",
      comment: "the hono app is runtime-free: routes run under app.request() with no node:* module",
      severity: "error",
      from: { path: "^src/api/" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "only-main-takes-the-agent",
      comment: "the composition root is imported by main.ts alone",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(agent/|main\\.ts$)" },
      to: { path: "^src/agent/" },
    },
    {
      name: "only-main-takes-the-cli",
      comment: "nothing below the CLI imports it",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(cli/|main\\.ts$)" },
      to: { path: "^src/cli/" },
    },
    {
      name: "the-client-knows-the-wire",
      comment: "the CLI reaches the agent only through the typed client and the wire types, never the agent's own rooms",
      severity: "error",
      from: { path: "^src/(cli|client)/" },
      to: { path: "^src/(agent|api|http|admission|policy|refresh)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
  },
};
