import { describe, expect, it } from 'vitest';
import { depthOf, nestsDeeperThan } from './json.ts';

describe('JSON nesting depth', () => {
  it('counts objects and arrays, not brackets inside strings', () => {
    expect(nestsDeeperThan('{"a":[{"b":1}]}', 3)).toBe(false);
    expect(nestsDeeperThan('{"a":[{"b":1}]}', 2)).toBe(true);
    expect(nestsDeeperThan('{"a":"[[[[[[\\"[[["}', 1)).toBe(false);
  });

  it('measures hostile depths without overflowing the stack', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(nestsDeeperThan(deep, 32)).toBe(true);
    let value: unknown = 1;
    for (let i = 0; i < 100_000; i++) value = [value];
    expect(depthOf(value)).toBe(100_000);
  });

  it('gives the depth of parsed values', () => {
    expect(depthOf('x')).toBe(0);
    expect(depthOf({})).toBe(1);
    expect(depthOf({ a: [{ b: {} }] })).toBe(4);
  });
});
