// .gitignore-style patterns, the syntax of Flux's `--ignore-paths` and
// `.sourceignore`: `#` comments, `!` negation, a trailing `/` for directories
// only, a leading or inner `/` anchoring to the root, `*`, `?`, `[...]` and `**`.
// The last matching pattern decides.

/** What `buildArtifact` leaves out unless told otherwise. */
export const DEFAULT_IGNORE = ['.git/'];

interface IgnoreRule {
  negated: boolean;
  directoryOnly: boolean;
  /** Anchored rules match the whole relative path; others the last segment at any depth. */
  anchored: boolean;
  regexp: RegExp;
}

function escapeRegExp(character: string): string {
  return /[\\^$.*+?()[\]{}|]/.test(character) ? `\\${character}` : character;
}

function globToRegExpSource(glob: string): string {
  let source = '';
  for (let index = 0; index < glob.length; index++) {
    const character = glob[index] ?? '';
    if (character === '*' && glob[index + 1] === '*') {
      const atSegmentStart = index === 0 || glob[index - 1] === '/';
      if (atSegmentStart && glob[index + 2] === '/') {
        source += '(?:.*/)?'; // `**/`: zero or more directories
        index += 2;
        continue;
      }
      if (atSegmentStart && index + 2 === glob.length) {
        source += '.*'; // trailing `/**`: everything inside
        index += 1;
        continue;
      }
      source += '[^/]*'; // `**` inside a segment is just `*`
      index += 1;
    } else if (character === '*') {
      source += '[^/]*';
    } else if (character === '?') {
      source += '[^/]';
    } else if (character === '[') {
      const close = glob.indexOf(']', index + 2);
      if (close === -1) {
        source += '\\[';
        continue;
      }
      let set = glob.slice(index + 1, close);
      const negated = set.startsWith('!') || set.startsWith('^');
      if (negated) set = set.slice(1);
      source += `[${negated ? '^' : ''}${set.replace(/\\/g, '\\\\')}]`;
      index = close;
    } else if (character === '\\' && index + 1 < glob.length) {
      source += escapeRegExp(glob[index + 1] ?? '');
      index += 1;
    } else {
      source += escapeRegExp(character);
    }
  }
  return source;
}

function parseRule(line: string): IgnoreRule | undefined {
  let pattern = line.replace(/(?<!\\)\s+$/, '');
  if (pattern === '' || pattern.startsWith('#')) return undefined;
  const negated = pattern.startsWith('!');
  if (negated) pattern = pattern.slice(1);
  if (pattern.startsWith('\\#') || pattern.startsWith('\\!')) pattern = pattern.slice(1);
  const directoryOnly = pattern.endsWith('/');
  if (directoryOnly) pattern = pattern.slice(0, -1);
  const anchored = pattern.includes('/');
  if (pattern.startsWith('/')) pattern = pattern.slice(1);
  if (pattern === '') return undefined;
  return { negated, directoryOnly, anchored, regexp: new RegExp(`^${globToRegExpSource(pattern)}$`) };
}

/** Compiles patterns into a predicate over slash-separated paths relative to the artifact root. */
export function compileIgnore(patterns: readonly string[]): (relativePath: string, isDirectory: boolean) => boolean {
  const rules = patterns.flatMap((text) => text.split(/\r?\n/)).flatMap((line) => parseRule(line) ?? []);
  return (relativePath, isDirectory) => {
    const baseName = relativePath.slice(relativePath.lastIndexOf('/') + 1);
    let ignored = false;
    for (const rule of rules) {
      if (rule.directoryOnly && !isDirectory) continue;
      if (rule.regexp.test(rule.anchored ? relativePath : baseName)) ignored = !rule.negated;
    }
    return ignored;
  };
}
