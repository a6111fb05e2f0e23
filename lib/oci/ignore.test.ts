import { describe, expect, it } from 'vitest';
import { compileIgnore } from './ignore.ts';

describe('compileIgnore', () => {
  it.each([
    // [patterns, path, isDirectory, ignored]
    [['*.md'], 'README.md', false, true],
    [['*.md'], 'docs/guide.md', false, true],
    [['*.md'], 'docs/guide.yaml', false, false],
    [['/*.md'], 'docs/guide.md', false, false],
    [['/*.md'], 'README.md', false, true],
    [['docs/'], 'docs', true, true],
    [['docs/'], 'docs', false, false],
    [['docs/'], 'nested/docs', true, true],
    [['/docs/'], 'nested/docs', true, false],
    [['apps/*.yaml'], 'apps/web.yaml', false, true],
    [['apps/*.yaml'], 'apps/web/deploy.yaml', false, false],
    [['apps/*.yaml'], 'other/apps/web.yaml', false, false],
    [['**/secret.yaml'], 'a/b/secret.yaml', false, true],
    [['**/secret.yaml'], 'secret.yaml', false, true],
    [['a/**/z.yaml'], 'a/z.yaml', false, true],
    [['a/**/z.yaml'], 'a/b/c/z.yaml', false, true],
    [['a/**'], 'a/b/c', false, true],
    [['a/**'], 'a', true, false],
    [['file?.yaml'], 'file1.yaml', false, true],
    [['file?.yaml'], 'file10.yaml', false, false],
    [['file[0-9].yaml'], 'file7.yaml', false, true],
    [['file[!0-9].yaml'], 'file7.yaml', false, false],
    [['*.md', '!KEEP.md'], 'KEEP.md', false, false],
    [['!KEEP.md', '*.md'], 'KEEP.md', false, true],
    [['# comment', '', '   '], '# comment', false, false],
    [['\\#literal'], '#literal', false, true],
    [['a.yaml   '], 'a.yaml', false, true],
    [['*.yaml\n!keep.yaml'], 'keep.yaml', false, false],
  ] as const)('%j on %s (directory: %s) → ignored %s', (patterns, path, isDirectory, ignored) => {
    expect(compileIgnore(patterns)(path, isDirectory)).toBe(ignored);
  });
});
