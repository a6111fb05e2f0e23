// How the agent marks what is its own in a cluster: the field manager of every write it makes, and
// the owner labels of an app's objects. Apply stamps the labels, prune deletes only objects that
// carry them, and an object labelled for another app is refused.
export const FIELD_MANAGER = 'flotilla-agent';

export const APP_LABEL = 'app.flotilla.dev/name';
export const MANAGED_BY_LABEL = 'app.flotilla.dev/managed-by';

export function ownerLabelsOf(app: string): Record<string, string> {
  return { [APP_LABEL]: app, [MANAGED_BY_LABEL]: 'flotilla' };
}
