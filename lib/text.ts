// One truncation helper for every place a value is shown or stored in bounded space.

/**
 * The value itself when its text fits in `max` characters; otherwise its text cut to `max`
 * followed by `marker` (which may use `{length}`, the full length). Strings are measured as they
 * are, anything else as JSON.
 */
export function truncate(value: unknown, max: number, marker = '… ({length} characters, truncated)'): unknown {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === undefined || text.length <= max) return value;
  return text.slice(0, max) + marker.replace('{length}', String(text.length));
}
