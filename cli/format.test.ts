import { describe, expect, it } from 'vitest';
import { ago, counts, driftLines, table } from './format.ts';

describe('table', () => {
  it('aligns columns and shows missing cells as -', () => {
    expect(table(['NAME', 'N'], [['a', 1], ['long-name', null]])).toBe('NAME       N\na          1\nlong-name  -');
  });
});

describe('ago and counts', () => {
  it('says how long ago, or never', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(ago(null, now)).toBe('never');
    expect(ago('2026-01-01T23:59:30Z', now)).toBe('30s ago');
    expect(ago('2026-01-01T23:00:00Z', now)).toBe('60m ago');
    expect(ago('2025-12-30T00:00:00Z', now)).toBe('3d ago');
  });

  it('counts by key, or -', () => {
    expect(counts({ Ready: 2, Failed: 1 })).toBe('Ready:2 Failed:1');
    expect(counts({})).toBe('-');
  });
});

describe('driftLines', () => {
  it('shows each field with its values on one line, cut to 60 columns', () => {
    const fits = 'x'.repeat(60);
    const cut = 'y'.repeat(61);
    const lines = driftLines([
      {
        object: 'Deployment/web/web',
        corrected: true,
        fields: [
          { path: 'spec.replicas', before: 1, after: 3 },
          { path: 'metadata.labels', before: { a: 'b' }, after: undefined },
          { path: 'data.big', before: fits, after: cut },
        ],
      },
      { object: 'ConfigMap/web/cfg', corrected: false, fields: [] },
    ]);
    expect(lines).toEqual([
      '  Deployment/web/web (reverted)',
      '    spec.replicas: 1 -> 3',
      '    metadata.labels: {"a":"b"} -> <none>',
      `    data.big: ${fits} -> ${'y'.repeat(57)}...`,
      '  ConfigMap/web/cfg (left alone)',
    ]);
  });
});
