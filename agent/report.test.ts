import { describe, expect, it } from 'vitest';
import type { AgentReport } from '../lib/api/schemas.ts';
import { AgentReport as AgentReportSchema } from '../lib/api/schemas.ts';
import { fitReport } from './report.ts';

const report = (objects: number, fields: number, valueBytes: number): AgentReport => ({
  apps: [
    {
      name: 'web',
      version: '1.0.0',
      digest: `sha256:${'a'.repeat(64)}`,
      phase: 'Ready',
      conditions: [],
      counts: { unchanged: objects },
      drift: Array.from({ length: objects }, (_, i) => ({
        object: `ConfigMap/web/cm-${i}`,
        corrected: true,
        fields: Array.from({ length: fields }, (_, f) => ({ path: `/data/k${f}`, before: 'x'.repeat(valueBytes), after: 'y' })),
      })),
    },
  ],
});

describe('fitReport', () => {
  it('leaves a report within budget as it is', () => {
    const small = report(3, 2, 10);
    expect(fitReport(small)).toEqual(small);
  });

  it('keeps any report under the budget and valid for the API, status first', () => {
    for (const huge of [report(500, 300, 1024), report(500, 10, 2000)]) {
      const fitted = fitReport(huge, 1024 * 1024);
      expect(Buffer.byteLength(JSON.stringify(fitted))).toBeLessThanOrEqual(1024 * 1024);
      expect(AgentReportSchema.safeParse(fitted).success).toBe(true);
      expect(fitted.apps[0]).toMatchObject({ name: 'web', phase: 'Ready', version: '1.0.0' });
      expect(fitted.apps[0]!.drift.length).toBeGreaterThan(0);
    }
  });

  it('drops values before it drops drift entries', () => {
    const fitted = fitReport(report(100, 5, 4000), 200 * 1024);
    expect(fitted.apps[0]!.drift).toHaveLength(100);
    expect(fitted.apps[0]!.drift[0]!.fields[0]!.before).toMatch(/omitted/);
  });
});
