// The agent's report as sent: whatever the drift, it fits what the control plane accepts.
import type { AgentReport } from '../lib/api/schemas.ts';
import { LIMITS } from '../lib/limits.ts';

const OMITTED = '(omitted: report too large)';

/** Drift entries per app kept when even the values dropped are not enough. */
const LAST_RESORT_DRIFT_ENTRIES = 10;

/**
 * A report the control plane will accept, however much drift there is: at most
 * LIMITS.maxDriftFields fields per object (the API's limit), and past the byte budget the
 * before/after values are dropped, then drift entries beyond the first few per app. Status always
 * gets through.
 */
export function fitReport(report: AgentReport, budget: number = LIMITS.reportBudgetBytes): AgentReport {
  const size = (candidate: AgentReport) => Buffer.byteLength(JSON.stringify(candidate));
  let fitted: AgentReport = {
    ...report,
    apps: report.apps.map((app) => ({ ...app, drift: app.drift.map((entry) => ({ ...entry, fields: entry.fields.slice(0, LIMITS.maxDriftFields) })) })),
  };
  if (size(fitted) <= budget) return fitted;
  fitted = {
    ...fitted,
    apps: fitted.apps.map((app) => ({
      ...app,
      drift: app.drift.map((entry) => ({ ...entry, fields: entry.fields.map((field) => ({ path: field.path, before: OMITTED, after: OMITTED })) })),
    })),
  };
  if (size(fitted) <= budget) return fitted;
  return { ...fitted, apps: fitted.apps.map((app) => ({ ...app, drift: app.drift.slice(0, LAST_RESORT_DRIFT_ENTRIES) })) };
}
