// The Node.js flags the agent runs with, defined once: scripts/build.ts writes them next to the
// bundle (dist/agent/node-flags) for the image's entrypoint and agent/deploy, and bench:agent runs
// the bundled apply engine with exactly these. Measured with `npm run bench:agent` (README, "Agent
// memory"); each flag is there for a figure, not by habit.
export const AGENT_NODE_FLAGS: readonly string[] = [];
