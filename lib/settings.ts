// Settings are parsed once per entry point, from the environment, with a zod schema. A bad or
// missing setting fails the program at start with one message listing every problem.
import { z } from 'zod';

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/**
 * Parses `env` with `schema` (an object of environment variable names). Throws a SettingsError
 * naming every bad or missing variable, e.g.
 * "flotilla-agent: bad settings: FLOTILLA_URL is required; FLOTILLA_INTERVAL_SECONDS must be a number".
 */
export function parseSettings<T extends z.ZodType>(program: string, schema: T, env: Record<string, string | undefined> = process.env): z.output<T> {
  // Empty values count as unset, as shells and Kubernetes manifests often leave them.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const result = schema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.map(String).join('.') || 'settings';
    // zod does not report the input by default: a variable is missing when the environment lacks it.
    const missing = issue.code === 'invalid_type' && issue.path.length === 1 && present[String(issue.path[0])] === undefined;
    return missing ? `${name} is required` : `${name}: ${issue.message}`;
  });
  throw new SettingsError(`${program}: bad settings: ${problems.join('; ')}`);
}

/** An environment variable holding JSON, checked against `schema`. */
export function jsonSetting<T extends z.ZodType>(schema: T) {
  return z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/** A whole number from an environment variable, within bounds. */
export const intSetting = (min: number, max: number) =>
  // Each check names its own message: zod would otherwise use the schema's ('must be a number').
  z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

/** A TCP port. */
export const portSetting = intSetting(0, 65_535);

/** A boolean flag: true/false, 1/0, yes/no. */
export const boolSetting = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** An http(s) URL. */
export const urlSetting = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' });
