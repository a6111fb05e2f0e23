import { describe, expect, it } from 'vitest';
import { depthOf, protoKeyPath, nestsDeeperThan } from './json.ts';

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

describe('__proto__ keys', () => {
  it('finds them however they are spelled, and nowhere else', () => {
    expect(protoKeyPath('{"a":{"__proto__":1}}')).toBe('a');
    expect(protoKeyPath('{"__proto__":1}')).toBe('');
    expect(protoKeyPath('{"a":[{"\\u005f_proto__":1}]}')).toBe('a.0');
    expect(protoKeyPath('{"a":"__proto__"}')).toBeNull();
    expect(protoKeyPath('{"a":"\\u0041"}')).toBeNull();
    expect(protoKeyPath('not json __proto__')).toBeNull();
  });
});
