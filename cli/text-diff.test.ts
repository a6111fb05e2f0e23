import { describe, expect, it } from 'vitest';
import { lineDiff } from './text-diff.ts';

describe('lineDiff', () => {
  it('shows changed lines with one line of context', () => {
    const before = ['a', 'b', 'c', 'd', 'e', 'f'].join('\n');
    const after = ['a', 'b', 'C', 'd', 'e', 'f', 'g'].join('\n');
    expect(lineDiff(before, after)).toBe(['  ...', '  b', '- c', '+ C', '  d', '  ...', '  f', '+ g'].join('\n'));
  });

  it('handles added and removed files', () => {
    expect(lineDiff('', 'x\ny')).toBe('+ x\n+ y');
    expect(lineDiff('x', '')).toBe('- x');
  });
});
