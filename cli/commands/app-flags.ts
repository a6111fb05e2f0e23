// The flags of `app create` and `app update` for dependsOn and the drift mode.
import { DriftMode } from '../../lib/api/dependencies.ts';
import type { AppSpec } from '../../lib/api/schemas.ts';
import { CliError } from '../errors.ts';

export const APP_DEPENDENCY_OPTIONS = { 'depends-on': { type: 'string' }, drift: { type: 'string' } } as const;

/** `--depends-on a,b` (empty: none) and `--drift correct|report`, as spec fields; absent flags add nothing. */
export function appDependencyFields(values: { 'depends-on'?: string; drift?: string }): Pick<Partial<AppSpec>, 'dependsOn' | 'drift'> {
  const fields: Pick<Partial<AppSpec>, 'dependsOn' | 'drift'> = {};
  if (values['depends-on'] !== undefined) {
    fields.dependsOn = values['depends-on'].split(',').map((name) => name.trim()).filter(Boolean);
  }
  if (values.drift !== undefined) {
    const mode = DriftMode.safeParse(values.drift);
    if (!mode.success) throw new CliError(`--drift must be correct or report, not ${JSON.stringify(values.drift)}`, 2);
    fields.drift = mode.data;
  }
  return fields;
}

/** What `app create|update` prints after the app: its dependencies and drift mode, when set. */
export function describeAppDependencies(app: { dependsOn?: string[] | undefined; drift?: string | undefined }): string {
  return `${app.dependsOn?.length ? `, depends on ${app.dependsOn.join(', ')}` : ''}${app.drift === 'report' ? ', drift reported only' : ''}`;
}
