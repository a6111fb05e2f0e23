// The Node.js flags the agent runs with, defined once: scripts/build.ts writes them next to the
// bundle (dist/agent/node-flags, one line) for the image's entrypoint and agent/deploy, and
// bench:agent runs the bundled apply engine with exactly these. Each is there for a measured figure
// (bench:agent, 500 objects, Node 24; README, "Agent memory"):
export const AGENT_NODE_FLAGS: readonly string[] = [
  // The young generation: V8 grows each semi-space up to 16 MiB under allocation-heavy work (YAML
  // parsing, 500 JSON responses), and RSS keeps it. At 1 MiB objects are promoted sooner and
  // scavenges are more frequent but short: peak RSS −13 MiB (100 → 87), no measurable time cost
  // (the agent waits on the apiserver).
  '--max-semi-space-size=1',
  // No TurboFan and no Maglev: Ignition and Sparkplug only. The optimising compilers' own code
  // (tens of MiB of the node binary, paged in when first used) and their compile zones were the
  // next largest share: peak RSS −10 MiB (82 → 72). The agent's hot paths are I/O bound; YAML
  // parsing of 500 objects is ~100 ms slower. Not --jitless or --lite-mode: both disable
  // WebAssembly, which Node's fetch (undici's llhttp) needs for the registry and control plane.
  '--no-opt',
  '--no-maglev',
  // gc() for agent/memory.ts, which sheds the old-generation garbage of request bursts that V8
  // would keep until it had grown well beyond what is live: peak RSS −3 MiB.
  '--expose-gc',
];
