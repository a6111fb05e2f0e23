// The IPC messages between `npm run bench:fleet` (the parent, the simulated agents) and its
// control-plane child (test/bench/fleet-server.ts).
import type { Usage } from '../../../functions/usage.ts';

/** One request the child served: the benchmark's tag and request id, and functions/usage.ts's record. */
export interface ServerRecord {
  id: string;
  tag: string;
  method: string;
  route: string;
  status: number;
  usage: Usage;
}

export interface ClockFigures {
  seconds: number;
  runs: number;
  failures: number;
  ms: number;
  dynamoCalls: Record<string, number>;
  readUnits: number;
  writeUnits: number;
  s3Calls: number;
}

export type ParentMessage =
  | { type: 'cpu'; id: number }
  | { type: 'heartbeat'; id: number; seconds: number }
  | { type: 'flush'; id: number }
  | { type: 'clock'; id: number }
  | { type: 'stop'; id: number };

export type ChildMessage =
  | { type: 'ready'; url: string; adminToken: string; storage: string }
  | { type: 'records'; records: ServerRecord[] }
  | { type: 'cpu'; id: number; userMicros: number; systemMicros: number; rss: number }
  | { type: 'clock'; id: number; clock: ClockFigures }
  | { type: 'ack'; id: number };
