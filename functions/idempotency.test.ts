// Reviewer's failing tests: two requests with one Idempotency-Key, interleaved so that the second
// one's replay() lookup runs before the first one's record is written and its next read after it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, startFixture, type Fixture } from '../test/support/control-plane.ts';

describe('one Idempotency-Key, two requests interleaved', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await startFixture();
    await f.admin('PUT', '/v1/environments/prod', {});
  });
  afterAll(() => f.stop());

  /** Both requests' first history() (the replay lookup) run before either appends; the reads after it wait for the first append. */
  function interleave() {
    const promotions = f.services.storage.promotions as any;
    const orig = { history: promotions.history.bind(promotions), head: promotions.head.bind(promotions), append: promotions.append.bind(promotions) };
    let historyCalls = 0;
    let headCalls = 0;
    let bothLooked!: () => void;
    const looked = new Promise<void>((r) => (bothLooked = r));
    let appendedOnce!: () => void;
    const appended = new Promise<void>((r) => (appendedOnce = r));
    promotions.history = async (...args: any[]) => {
      const n = ++historyCalls;
      if (n <= 2) {
        const out = await orig.history(...args);
        if (n === 2) bothLooked();
        await looked;
        return out;
      }
      if (n === 4) await appended;
      return orig.history(...args);
    };
    promotions.head = async (...args: any[]) => {
      if (++headCalls === 2) await appended;
      return orig.head(...args);
    };
    promotions.append = async (...args: any[]) => {
      const out = await orig.append(...args);
      appendedOnce();
      return out;
    };
    return () => Object.assign(promotions, orig);
  }

  it('promotion: both answers are the one record', async () => {
    await f.admin('PUT', '/v1/apps/a1', { repository: '127.0.0.1:5000/team/a1' });
    await f.admin('POST', '/v1/apps/a1/releases', { version: '1.0.0', digest: digestOf(1) });
    const send = () => f.call('POST', '/v1/apps/a1/promotions', { token: f.adminToken, body: { environment: 'prod', version: '1.0.0', reason: 'once' }, headers: { 'idempotency-key': 'key-a1-0001' } });
    const restore = interleave();
    const answers = await Promise.all([send(), send()]);
    restore();
    expect(answers.map((a) => a.status), JSON.stringify(answers.map((a) => a.body))).toEqual([201, 201]);
  });

  it('rollback: one key never rolls back twice', async () => {
    await f.admin('PUT', '/v1/apps/a2', { repository: '127.0.0.1:5000/team/a2' });
    for (const [i, v] of ['1.0.0', '1.0.1', '1.0.2'].entries()) {
      await f.admin('POST', '/v1/apps/a2/releases', { version: v, digest: digestOf(10 + i) });
      expect((await f.admin('POST', '/v1/apps/a2/promotions', { environment: 'prod', version: v, reason: 'r' })).status).toBe(201);
    }
    const send = () => f.call('POST', '/v1/apps/a2/rollbacks', { token: f.adminToken, body: { environment: 'prod', reason: 'regression' }, headers: { 'idempotency-key': 'key-a2-0001' } });
    const restore = interleave();
    const answers = await Promise.all([send(), send()]);
    restore();
    const history = (await f.admin('GET', '/v1/apps/a2/promotions?environment=prod')).body.items;
    const resolved = (await f.admin('GET', '/v1/apps/a2/environments/prod')).body.resolved.version;
    expect(history.filter((r: { kind: string }) => r.kind === 'rollback'), `answers ${answers.map((a) => a.status)}; resolved ${resolved}`).toHaveLength(1);
    expect(resolved).toBe('1.0.1');
  });
});
