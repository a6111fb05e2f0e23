// A line diff for `flotilla diff`: the changed lines with one line of context, from a longest
// common subsequence. Manifests are small; past the cap it says only that the file changed.
const MAX_CELLS = 4_000_000;

export function lineDiff(before: string, after: string): string {
  const a = before === '' ? [] : before.split('\n');
  const b = after === '' ? [] : after.split('\n');
  if (a.length * b.length > MAX_CELLS) return `  (${a.length} → ${b.length} lines; too large to show)`;
  // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..]
  const lcs = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const ops: [' ' | '-' | '+', string][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) ops.push([' ', a[i++]!]), j++;
    else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push(['-', a[i++]!]);
    else ops.push(['+', b[j++]!]);
  }
  const near = (k: number) => [k - 1, k, k + 1].some((n) => ops[n] && ops[n][0] !== ' ');
  return ops
    .map(([op, line], k) => (op !== ' ' || near(k) ? `${op} ${line}` : null))
    .filter((line, k, all) => line !== null || all[k - 1] !== null)
    .map((line) => line ?? '  ...')
    .join('\n');
}
