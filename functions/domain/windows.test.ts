import { describe, expect, it } from 'vitest';
import { windowProblems, windowVerdict, type Freeze, type WindowPolicy } from './windows.ts';

const officeHours = (timeZone: string): WindowPolicy => ({ timeZone, allow: [{ start: '09:00', end: '17:00' }] });
const overnightFriday: WindowPolicy = { allow: [{ days: ['fri'], start: '22:00', end: '02:00' }] };
const lunchDenied: WindowPolicy = {
  timeZone: 'Europe/Berlin',
  allow: [{ start: '09:00', end: '17:00' }],
  deny: [{ start: '12:00', end: '13:00' }],
};
const berlinFridayEvening: WindowPolicy = {
  timeZone: 'Europe/Berlin',
  deny: [{ days: ['fri'], start: '16:00', end: '23:59' }],
};
const freeze = (until: string | null): Freeze => ({ reason: 'incident 42', by: 'sre', at: '2026-11-01T00:00:00.000Z', until });

describe('windowVerdict', () => {
  // [case, policy, freeze, now (UTC), open, detail]
  const cases: [string, WindowPolicy | undefined, Freeze | null, string, boolean, string][] = [
    ['no policy, no freeze', undefined, null, '2026-11-27T03:00:00Z', true, 'open'],
    ['empty policy', {}, null, '2026-11-27T03:00:00Z', true, 'open'],
    ['empty allow list restricts nothing', { allow: [] }, null, '2026-11-27T03:00:00Z', true, 'open'],

    // Midnight: a window starting Friday 22:00 runs into Saturday.
    ['overnight window: fri 23:00', overnightFriday, null, '2026-11-27T23:00:00Z', true, 'open'],
    ['overnight window: sat 01:00', overnightFriday, null, '2026-11-28T01:00:00Z', true, 'open'],
    ['overnight window: sat 01:59', overnightFriday, null, '2026-11-28T01:59:00Z', true, 'open'],
    ['overnight window: end is exclusive (sat 02:00)', overnightFriday, null, '2026-11-28T02:00:00Z', false, 'outside every allow window (UTC)'],
    ['overnight window: fri 21:59', overnightFriday, null, '2026-11-27T21:59:00Z', false, 'outside every allow window (UTC)'],
    ['overnight window: sat 23:00 (starts on fri only)', overnightFriday, null, '2026-11-28T23:00:00Z', false, 'outside every allow window (UTC)'],
    ['overnight window: thu 01:00 (not the day after a fri)', overnightFriday, null, '2026-11-26T01:00:00Z', false, 'outside every allow window (UTC)'],
    ['week wrap: sun 23:00-01:00 covers mon 00:30', { allow: [{ days: ['sun'], start: '23:00', end: '01:00' }] }, null, '2026-11-30T00:30:00Z', true, 'open'],

    // Europe/Berlin spring forward, 2026-03-29 02:00 CET -> 03:00 CEST (UTC+1 -> UTC+2).
    ['berlin: sat 09:30 CET (08:30Z) before the change', officeHours('Europe/Berlin'), null, '2026-03-28T08:30:00Z', true, 'open'],
    ['berlin: sun 09:30 CEST (07:30Z) after the change', officeHours('Europe/Berlin'), null, '2026-03-29T07:30:00Z', true, 'open'],
    ['berlin: 07:30Z is 08:30 CET the day before', officeHours('Europe/Berlin'), null, '2026-03-28T07:30:00Z', false, 'outside every allow window (Europe/Berlin)'],
    ['berlin: 16:30Z is 18:30 CEST, closed', officeHours('Europe/Berlin'), null, '2026-03-29T16:30:00Z', false, 'outside every allow window (Europe/Berlin)'],
    // Europe/Berlin fall back, 2026-10-25 03:00 CEST -> 02:00 CET (UTC+2 -> UTC+1).
    ['berlin: sat 09:30 CEST (07:30Z) before the change', officeHours('Europe/Berlin'), null, '2026-10-24T07:30:00Z', true, 'open'],
    ['berlin: sun 09:30 CET (08:30Z) after the change', officeHours('Europe/Berlin'), null, '2026-10-25T08:30:00Z', true, 'open'],
    ['berlin: 07:30Z is 08:30 CET after the change', officeHours('Europe/Berlin'), null, '2026-10-25T07:30:00Z', false, 'outside every allow window (Europe/Berlin)'],
    ['berlin: 15:30Z is 16:30 CET, open', officeHours('Europe/Berlin'), null, '2026-10-25T15:30:00Z', true, 'open'],

    // America/New_York: EST (UTC-5) in November, EDT (UTC-4) in June.
    ['new york: fri 09:30 EST (14:30Z)', officeHours('America/New_York'), null, '2026-11-27T14:30:00Z', true, 'open'],
    ['new york: fri 08:30 EST (13:30Z)', officeHours('America/New_York'), null, '2026-11-27T13:30:00Z', false, 'outside every allow window (America/New_York)'],
    ['new york: mon 09:30 EDT (13:30Z)', officeHours('America/New_York'), null, '2026-06-01T13:30:00Z', true, 'open'],
    ['new york: late friday UTC is still friday local', { timeZone: 'America/New_York', allow: [{ days: ['fri'], start: '20:00', end: '23:00' }] }, null, '2026-11-28T02:00:00Z', true, 'open'],

    // Deny inside allow.
    ['deny inside allow: 11:59 CET', lunchDenied, null, '2026-11-27T10:59:00Z', true, 'open'],
    ['deny inside allow: 12:30 CET', lunchDenied, null, '2026-11-27T11:30:00Z', false, 'inside deny window daily 12:00-13:00 Europe/Berlin'],
    ['deny inside allow: 13:00 CET (deny end exclusive)', lunchDenied, null, '2026-11-27T12:00:00Z', true, 'open'],
    ['deny is named before allow', lunchDenied, null, '2026-11-27T11:00:00Z', false, 'inside deny window daily 12:00-13:00 Europe/Berlin'],
    ['deny only: fri 17:00 CET', berlinFridayEvening, null, '2026-11-27T16:00:00Z', false, 'inside deny window fri 16:00-23:59 Europe/Berlin'],
    ['deny only: thu 17:00 CET', berlinFridayEvening, null, '2026-11-26T16:00:00Z', true, 'open'],

    // Freezes.
    ['freeze expired: ignored', undefined, freeze('2026-11-20T00:00:00.000Z'), '2026-11-27T03:00:00Z', true, 'open'],
    ['freeze expiring exactly now: ignored', undefined, freeze('2026-11-27T03:00:00.000Z'), '2026-11-27T03:00:00Z', true, 'open'],
    ['freeze in the future', undefined, freeze('2026-12-02T00:00:00.000Z'), '2026-11-27T03:00:00Z', false, 'frozen by sre: incident 42 (until 2026-12-02T00:00:00.000Z)'],
    ['freeze without end', undefined, freeze(null), '2026-11-27T03:00:00Z', false, 'frozen by sre: incident 42 (until lifted)'],
    ['freeze wins inside an allow window', officeHours('UTC'), freeze(null), '2026-11-27T10:00:00Z', false, 'frozen by sre: incident 42 (until lifted)'],
    ['expired freeze, outside allow', officeHours('UTC'), freeze('2026-11-20T00:00:00.000Z'), '2026-11-27T03:00:00Z', false, 'outside every allow window (UTC)'],

    // Invalid policies close.
    ['unknown zone closes', officeHours('Mars/Olympus'), null, '2026-11-27T10:00:00Z', false, 'the window policy is invalid: windows.timeZone: not an IANA time zone'],
    ['bad HH:MM closes', { allow: [{ start: '9:00', end: '17:00' }] }, null, '2026-11-27T10:00:00Z', false, 'the window policy is invalid: windows.allow.0.start: must be HH:MM'],
  ];

  it.each(cases)('%s', (_, policy, activeFreeze, now, open, detail) => {
    expect(windowVerdict(policy, activeFreeze, new Date(now))).toEqual({ open, detail });
  });
});

describe('windowProblems', () => {
  const cases: [string, WindowPolicy, string[]][] = [
    ['empty policy', {}, []],
    ['office hours in berlin', officeHours('Europe/Berlin'), []],
    ['UTC is a zone', { timeZone: 'UTC' }, []],
    ['unknown zone', { timeZone: 'Mars/Olympus' }, ['windows.timeZone: not an IANA time zone']],
    ['offset is not a zone', { timeZone: '+01:00' }, ['windows.timeZone: not an IANA time zone']],
    ['24:00', { allow: [{ start: '24:00', end: '02:00' }] }, ['windows.allow.0.start: must be HH:MM']],
    ['9:00', { allow: [{ start: '9:00', end: '17:00' }] }, ['windows.allow.0.start: must be HH:MM']],
    ['12:60', { deny: [{ start: '12:00', end: '12:60' }] }, ['windows.deny.0.end: must be HH:MM']],
    ['empty text', { allow: [{ start: '', end: '' }] }, ['windows.allow.0.start: must be HH:MM', 'windows.allow.0.end: must be HH:MM']],
    ['start equals end', { allow: [{ start: '09:00', end: '17:00' }, { start: '10:00', end: '10:00' }] }, ['windows.allow.1: start and end must differ']],
    ['empty days', { allow: [{ days: [], start: '09:00', end: '17:00' }] }, ['windows.allow.0.days: must not be empty']],
    [
      'unknown day',
      { deny: [{ days: ['mon', 'funday' as 'mon'], start: '09:00', end: '17:00' }] },
      ['windows.deny.0.days.1: must be one of mon, tue, wed, thu, fri, sat, sun'],
    ],
    [
      'allow covered by deny never opens',
      { allow: [{ days: ['sat'], start: '10:00', end: '12:00' }], deny: [{ days: ['sat'], start: '09:00', end: '13:00' }] },
      ['windows: the allow windows never open outside the deny windows'],
    ],
    [
      'overnight deny covering an overnight allow never opens',
      { allow: [{ days: ['sun'], start: '23:30', end: '00:30' }], deny: [{ days: ['sun'], start: '23:00', end: '01:00' }] },
      ['windows: the allow windows never open outside the deny windows'],
    ],
    [
      'deny windows covering the whole week',
      { deny: [{ start: '00:00', end: '12:00' }, { start: '12:00', end: '00:00' }] },
      ['windows: the deny windows cover the whole week'],
    ],
    ['a one-minute gap is enough', { deny: [{ start: '00:00', end: '23:59' }] }, []],
    [
      'allow partly outside deny opens',
      { allow: [{ days: ['sat'], start: '10:00', end: '12:00' }], deny: [{ days: ['sat'], start: '11:00', end: '13:00' }] },
      [],
    ],
    [
      'malformed policy skips the week walk',
      { allow: [{ start: '10:00', end: '24:00' }], deny: [{ start: '00:00', end: '12:00' }, { start: '12:00', end: '00:00' }] },
      ['windows.allow.0.end: must be HH:MM'],
    ],
  ];

  it.each(cases)('%s', (_, policy, problems) => {
    expect(windowProblems(policy)).toEqual(problems);
  });
});
