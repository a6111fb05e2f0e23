// Deployment windows and freezes: whether a rollout may move at a given instant. Pure: the time is
// injected and time zones come from Intl, so DST follows the zone's rules without a library.
import { isSuspensionActive } from './resolve.ts';

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
/** A weekly window in the policy's time zone: start and end 'HH:MM' (24h); end <= start spans midnight into the next day; days = the days it STARTS on (default: every day). */
export interface Window {
  days?: Weekday[];
  start: string;
  end: string;
}
export interface WindowPolicy {
  timeZone?: string /* IANA, default 'UTC' */;
  allow?: Window[];
  deny?: Window[];
}
export interface Freeze {
  reason: string;
  by: string;
  at: string;
  until: string | null;
}
export interface WindowVerdict {
  open: boolean;
  detail: string;
}

/** In week order from Monday, so a day's index times 1440 is its first minute of the week. */
export const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const MINUTES_PER_DAY = 24 * 60;
const MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY;
const HH_MM = /^([01]\d|2[0-3]):[0-5]\d$/;

function minuteOfDay(hhmm: string): number {
  const [hours, minutes] = hhmm.split(':');
  return Number(hours) * 60 + Number(minutes);
}

/**
 * Whether a local minute of the week (0 = Monday 00:00) is inside the window. The window covers
 * [start, end): a window ending 17:00 is closed at 17:00. Measuring the distance from each opening
 * modulo a week makes midnight and the Sunday-to-Monday wrap need no special case.
 */
export function windowCovers(window: Window, minuteOfWeek: number): boolean {
  const start = minuteOfDay(window.start);
  const end = minuteOfDay(window.end);
  const length = end > start ? end - start : MINUTES_PER_DAY - start + end;
  return (window.days ?? WEEKDAYS).some((day) => {
    const opensAt = WEEKDAYS.indexOf(day) * MINUTES_PER_DAY + start;
    return (minuteOfWeek - opensAt + MINUTES_PER_WEEK) % MINUTES_PER_WEEK < length;
  });
}

// Building a DateTimeFormat is costly next to formatting; one per zone serves every call.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** The wall-clock minute of the week (0 = Monday 00:00) that `now` is in `timeZone`. */
export function localMinuteOfWeek(now: Date, timeZone: string): number {
  const parts = formatterFor(timeZone).formatToParts(now);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((each) => each.type === type)?.value ?? '';
  const day = WEEKDAYS.indexOf(part('weekday').toLowerCase() as Weekday);
  // % 24: some ICU versions print midnight as "24" even in h23.
  return day * MINUTES_PER_DAY + (Number(part('hour')) % 24) * 60 + Number(part('minute'));
}

export function isTimeZone(value: string): boolean {
  // Intl also accepts offsets such as "+01:00" on newer runtimes; they are not zones and have no DST.
  if (/^[+-]/.test(value)) return false;
  try {
    formatterFor(value);
    return true;
  } catch {
    return false;
  }
}

function describeWindow(window: Window): string {
  return `${window.days ? window.days.join(',') : 'daily'} ${window.start}-${window.end}`;
}

/** Open when: no active freeze (until null or in the future), and (no allow windows or inside one), and inside no deny window. detail is one human sentence naming why (e.g. "frozen by sre: incident 42 (until 2026-12-02T00:00:00.000Z)", "inside deny window fri 16:00-23:59 Europe/Berlin", "outside every allow window (Europe/Berlin)", "open"). */
export function windowVerdict(policy: WindowPolicy | undefined, freeze: Freeze | null, now: Date): WindowVerdict {
  if (freeze && isSuspensionActive(freeze, now)) {
    return { open: false, detail: `frozen by ${freeze.by}: ${freeze.reason} (until ${freeze.until ?? 'lifted'})` };
  }
  if (!policy) return { open: true, detail: 'open' };
  // A policy that cannot be evaluated closes rather than letting changes through unchecked.
  const [invalid] = shapeProblems(policy);
  if (invalid !== undefined) return { open: false, detail: `the window policy is invalid: ${invalid}` };

  const timeZone = policy.timeZone ?? 'UTC';
  const minute = localMinuteOfWeek(now, timeZone);
  // Deny is named first: it is the more specific reason when both apply.
  const deny = policy.deny?.find((window) => windowCovers(window, minute));
  if (deny) return { open: false, detail: `inside deny window ${describeWindow(deny)} ${timeZone}` };
  const allow = policy.allow ?? [];
  if (allow.length > 0 && !allow.some((window) => windowCovers(window, minute))) {
    return { open: false, detail: `outside every allow window (${timeZone})` };
  }
  return { open: true, detail: 'open' };
}

/** Problems of a policy, each "windows.<path>: <message>" e.g. "windows.timeZone: not an IANA time zone", "windows.allow.0.start: must be HH:MM", "windows.allow.1: start and end must differ", "windows.allow.0.days: must not be empty", "windows: the allow windows never open outside the deny windows". Empty array when valid. */
export function windowProblems(policy: WindowPolicy): string[] {
  const problems = shapeProblems(policy);
  // The week walk needs well-formed windows; a malformed policy already has problems to fix first.
  if (problems.length === 0 && !opensDuringWeek(policy)) {
    problems.push(
      policy.allow?.length
        ? 'windows: the allow windows never open outside the deny windows'
        : 'windows: the deny windows cover the whole week',
    );
  }
  return problems;
}

function shapeProblems(policy: WindowPolicy): string[] {
  const problems: string[] = [];
  if (policy.timeZone !== undefined && !isTimeZone(policy.timeZone)) {
    problems.push('windows.timeZone: not an IANA time zone');
  }
  for (const kind of ['allow', 'deny'] as const) {
    (policy[kind] ?? []).forEach((window, index) => {
      problems.push(...windowShapeProblems(window, `windows.${kind}.${index}`));
    });
  }
  return problems;
}

function windowShapeProblems(window: Window, path: string): string[] {
  const problems: string[] = [];
  const startValid = HH_MM.test(window.start);
  const endValid = HH_MM.test(window.end);
  if (!startValid) problems.push(`${path}.start: must be HH:MM`);
  if (!endValid) problems.push(`${path}.end: must be HH:MM`);
  // Equal ends would read as a whole day under "end <= start spans midnight"; ask for it explicitly.
  if (startValid && endValid && window.start === window.end) problems.push(`${path}: start and end must differ`);
  if (window.days !== undefined) {
    if (window.days.length === 0) problems.push(`${path}.days: must not be empty`);
    window.days.forEach((day, index) => {
      if (!WEEKDAYS.includes(day)) problems.push(`${path}.days.${index}: must be one of ${WEEKDAYS.join(', ')}`);
    });
  }
  return problems;
}

/**
 * Whether some wall-clock minute of the week is allowed and not denied. Walking local minutes
 * (not instants) keeps the answer independent of the zone: every local minute of a week occurs in
 * some week, DST only skips or repeats an hour on two days a year.
 */
function opensDuringWeek(policy: WindowPolicy): boolean {
  const allow = policy.allow ?? [];
  const deny = policy.deny ?? [];
  for (let minute = 0; minute < MINUTES_PER_WEEK; minute++) {
    const allowed = allow.length === 0 || allow.some((window) => windowCovers(window, minute));
    if (allowed && !deny.some((window) => windowCovers(window, minute))) return true;
  }
  return false;
}
