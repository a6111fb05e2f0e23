// Garbage the agent sheds on purpose. In a burst of apiserver requests (a full check of 500 objects
// takes a second or two) each request's objects (request and response, their buffers, the response
// text and what it parses into) live across a few young-generation collections while it is in
// flight, so most of them are promoted to V8's old generation, and V8 collects that only after it
// has grown well beyond what is live: 3 MiB of bench:agent's peak RSS (README, "Agent memory"). The
// agent runs with --expose-gc (agent/node-flags.ts) and asks for a full collection after every
// BYTES_PER_COLLECTION of text it parsed: five or so per 500-object check, a few milliseconds each
// on the agent's small heap. Where gc is not exposed (tests under tsx) this does nothing.
const collect = (globalThis as { gc?: () => void }).gc;
const BYTES_PER_COLLECTION = 128 * 1024;
let bytesSinceCollection = 0;

/** Counts `bytes` of text just parsed (an apiserver response, a manifest file); collects when due. */
export function shedGarbage(bytes: number): void {
  if (!collect) return;
  bytesSinceCollection += bytes;
  if (bytesSinceCollection < BYTES_PER_COLLECTION) return;
  bytesSinceCollection = 0;
  collect();
}
