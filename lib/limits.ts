// The limits the API, the agent and the CLI share, declared once. The control plane enforces
// them (lib/api/schemas.ts, functions/app.ts); the agent shapes its reports to fit them.
const KiB = 1024;
const MiB = 1024 * KiB;

export const LIMITS = {
  /** Largest accepted request body, except agent reports. */
  maxBodyBytes: 256 * KiB,
  /** Largest accepted agent report body. */
  maxReportBytes: 4 * MiB,
  /** What the agent aims a report at: below maxReportBytes, with room for the request's framing. */
  reportBudgetBytes: 3 * MiB,
  /** Apps per report, and drift entries, fields per drifted object and conditions per app. */
  maxReportApps: 500,
  maxDriftEntries: 500,
  maxDriftFields: 200,
  maxConditions: 50,
  /** The message of an app report. */
  maxReportMessageChars: 4096,
  /** A drifted value as the agent reports it (the full report goes to S3). */
  maxReportedValueChars: 1024,
  /** Drift events one report may write to the audit log, and each value's length there. */
  maxDriftEventsPerReport: 50,
  maxEventValueChars: 512,
  /** Fields of one drifted object an event carries. */
  maxEventDriftFields: 20,
  /** Deepest nesting of objects and arrays a request body may have (DynamoDB stores at most 32). */
  maxJsonDepth: 32,
  /** Deepest a drifted value may nest inside an audit event; deeper ones are kept as (cut) JSON text. */
  maxEventValueDepth: 16,
  /** An audit event's message. */
  maxEventMessageChars: 1024,
  /** Region pins (and wave-group pins) one app may have in one environment. */
  maxPinsPerEnvironment: 100,
  /** Apps of one cluster that may be suspended one by one. */
  maxSuspendedApps: 100,
  /** The audit log: events per page and the widest time window one query may span. */
  maxEventsPerPage: 1000,
  maxEventWindowDays: 92,
  /** Per-cluster variables: a name, a value, variables per environment or cluster, scopes per app, the whole document. */
  maxVariableNameChars: 128,
  maxVariableValueChars: 4 * KiB,
  maxVariablesPerScope: 200,
  maxValueScopes: 1000,
  maxAppValuesBytes: 128 * KiB,
  /** An object after substitution (etcd keeps at most 1.5 MiB per object). */
  maxSubstitutedObjectBytes: 1.5 * MiB,
} as const;

/**
 * A substitution variable's name (`${name}`), as Flux's postBuild.substitute takes it. Here, not
 * in lib/api/schemas.ts, so the agent's build path does not load zod to read it.
 */
export const VARIABLE_NAME = /^[_a-zA-Z][_a-zA-Z0-9]*$/;
