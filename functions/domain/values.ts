// Per-cluster variables: an app's values per environment and per cluster (set through the API),
// and what one cluster's desired state carries of them. Sensitive values never come here: the app
// names Secrets in the cluster (AppSpec.valuesFrom) and the agent reads them.
import type { AppValues, AppValuesInput } from '../../lib/api/schemas.ts';
import type { Services } from '../context.ts';
import type { ValuesRecord } from '../storage/values.ts';
import { refreshDesired } from './desired.ts';
import { recordEvent } from './events.ts';
import { requireApp } from './apps.ts';

export async function getValues(services: Services, app: string): Promise<AppValues> {
  await requireApp(services, app);
  const values = await services.storage.values.get(app);
  return { app, environments: {}, clusters: {}, updatedAt: null, updatedBy: null, ...values };
}

/** Replaces the app's values whole; every environment's desired entry is rebuilt with them. */
export async function saveValues(services: Services, actor: string, app: string, input: AppValuesInput): Promise<AppValues> {
  await requireApp(services, app);
  const record: ValuesRecord = { environments: input.environments, clusters: input.clusters, updatedAt: services.now().toISOString(), updatedBy: actor };
  await services.storage.values.put(app, record);
  await refreshDesired(services.storage, app);
  const count = (scopes: Record<string, Record<string, string>>) => Object.values(scopes).reduce((sum, variables) => sum + Object.keys(variables).length, 0);
  await recordEvent(services, {
    type: 'app.values-updated',
    actor,
    app,
    message: `${actor} set the values of app ${app}: ${count(input.environments)} per environment (${Object.keys(input.environments).join(', ') || 'none'}), ${count(input.clusters)} per cluster (${Object.keys(input.clusters).join(', ') || 'none'})`,
    data: { environments: Object.keys(input.environments), clusters: Object.keys(input.clusters) },
  });
  return { app, ...record };
}
