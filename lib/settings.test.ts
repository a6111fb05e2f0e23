import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { intSetting, parseSettings } from './settings.ts';

const schema = z.object({ NAME: z.string(), COUNT: intSetting(1, 10), SIZE: intSetting(1, 10).default(5) });

function messageOf(env: Record<string, string>): string {
  try {
    parseSettings('tool', schema, env);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected bad settings');
}

describe('parseSettings', () => {
  it('says a variable is required only when it is missing or empty', () => {
    expect(messageOf({ NAME: '', COUNT: 'many' })).toBe('tool: bad settings: NAME is required; COUNT: must be a number');
  });

  it('says what a number out of range must be', () => {
    expect(messageOf({ NAME: 'x', COUNT: '0', SIZE: '11' })).toBe('tool: bad settings: COUNT: must be at least 1; SIZE: must be at most 10');
    expect(messageOf({ NAME: 'x', COUNT: '1.5' })).toBe('tool: bad settings: COUNT: must be a whole number');
  });
});
