// Exit codes are part of the CLI's contract (scripts test them).
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  noAgent: 3,
  /** `credagent agent` found another agent on its socket: `start` treats this as success. */
  agentRunning: 10,
} as const;
