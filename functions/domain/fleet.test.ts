import { describe, expect, it } from 'vitest';
import { buildCells, recountDue, RECOUNT_GRACE_MS, RECOUNT_WHILE_CHANGING_MS } from './fleet.ts';

describe('recountDue', () => {
  const t = 1_000_000_000;
  it.each([
    ['never changed', { dirtyAt: undefined, countedAt: undefined }, t, false],
    ['changed, never counted, still busy', { dirtyAt: t, countedAt: undefined }, t + 1, true],
    ['changed, counted a minute ago, still busy', { dirtyAt: t, countedAt: t - 60_000 }, t + 1, false],
    ['changed and quiet since', { dirtyAt: t, countedAt: t - 60_000 }, t + RECOUNT_GRACE_MS, true],
    ['counted after it went quiet', { dirtyAt: t, countedAt: t + RECOUNT_GRACE_MS }, t + 2 * RECOUNT_GRACE_MS, false],
    ['changing for long: counted anyway', { dirtyAt: t, countedAt: t - RECOUNT_WHILE_CHANGING_MS }, t + 1, true],
  ])('%s', (_name, cell, now, due) => {
    expect(recountDue(cell, now)).toBe(due);
  });
});

describe('buildCells', () => {
  const entry = (app: string, regions: Record<string, { version: string; digest: string }> = {}) => ({
    app,
    spec: { repository: 'r.example.com/x', path: '.', namespace: 'default', prune: true, wait: true, timeoutSeconds: 300, recreate: false, clusterSelector: {} } as never,
    version: { version: '1.0.0', digest: 'sha256:a' },
    regions,
  });
  const stored = { environment: 'prod', app: 'web', region: 'us', reported: 2, phases: { Ready: 2 }, versions: { '1.0.0': 2 }, drifted: 1, clusters: 3, stale: 5 };

  it('shows clusters that have not reported as Pending and never more stale clusters than clusters', () => {
    const [cell] = buildCells('prod', [entry('web')], [stored]);
    expect(cell).toMatchObject({ clusters: 3, phases: { Ready: 2, Pending: 1 }, drifted: 1, stale: 3, desiredVersion: '1.0.0' });
  });

  it('counts reports before the scan has counted the clusters', () => {
    const [cell] = buildCells('prod', [entry('web')], [{ ...stored, clusters: undefined, stale: undefined }]);
    expect(cell).toMatchObject({ clusters: 2, phases: { Ready: 2 }, stale: 0 });
  });

  it('has a cell for a pinned region with no clusters, and none for an app not deployed', () => {
    const cells = buildCells('prod', [entry('web', { eu: { version: '1.1.0', digest: 'sha256:b' } })], [stored, { ...stored, app: 'gone' }]);
    expect(cells.map((cell) => [cell.app, cell.region, cell.desiredVersion])).toEqual([
      ['web', 'eu', '1.1.0'],
      ['web', 'us', '1.0.0'],
    ]);
  });
});
