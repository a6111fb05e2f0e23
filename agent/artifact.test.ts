import { describe, expect, it } from 'vitest';
import { ArtifactCache, BuildError, buildObjects } from './artifact.ts';

const files = (entries: Record<string, string>) => new Map(Object.entries(entries).map(([path, text]) => [path, Buffer.from(text)]));

describe('buildObjects', () => {
  it('takes only manifests under the path, in lexical order, skipping empty documents and expanding Lists', () => {
    const objects = buildObjects(
      files({
        'deploy/b.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n---\n',
        'deploy/a.json': '{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"a"}}]}',
        'deploy/README.md': '# not a manifest',
        'other/c.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n',
      }),
      './deploy/',
    );
    expect(objects.map((object) => `${object.kind}/${object.metadata.name}`)).toEqual(['Secret/a', 'ConfigMap/b']);
  });

  it('keeps a custom resource whose kind ends in List as one object', () => {
    const objects = buildObjects(
      files({ 'a.yaml': 'apiVersion: example.com/v1\nkind: AllowList\nmetadata: {name: ips}\nitems: [{cidr: 10.0.0.0/8}]\n' }),
      '.',
    );
    expect(objects.map((object) => `${object.kind}/${object.metadata.name}`)).toEqual(['AllowList/ips']);
  });

  it('fails the whole build on invalid YAML, naming the file', () => {
    expect(() => buildObjects(files({ 'a.yaml': 'kind: ConfigMap\n', 'b.yaml': 'metadata: [unclosed\n' }), '.')).toThrow(/b\.yaml: invalid YAML/);
    expect(() => buildObjects(files({ 'a.yaml': '- just\n- a list\n' }), '.')).toThrow(BuildError);
  });

  it('refuses alias bombs instead of expanding them', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 9 }, (_, index) => {
      const previous = index === 0 ? 'a' : String.fromCharCode(97 + index);
      const name = String.fromCharCode(98 + index);
      return `${name}: &${name} [*${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}]`;
    })].join('\n');
    expect(() => buildObjects(files({ 'bomb.yaml': bomb }), '.')).toThrow(/bomb\.yaml: invalid YAML: its aliases expand to more than \d+ nodes/);
    // More aliases than any manifest needs is refused by the parser itself.
    const many = `a: &a x\nb: [${Array.from({ length: 101 }, () => '*a').join(', ')}]\n`;
    expect(() => buildObjects(files({ 'many.yaml': many }), '.')).toThrow(/many\.yaml: invalid YAML/);
  });

  it('keeps ordinary anchors and aliases, as kubectl does', () => {
    const source = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: &labels {app: web, tier: front}\n  annotations: *labels\ndata: {x: "1"}\n';
    const [object] = buildObjects(files({ 'a.yaml': source }), '.');
    expect(object!.metadata.labels).toEqual({ app: 'web', tier: 'front' });
    expect(object!.metadata.annotations).toEqual({ app: 'web', tier: 'front' });
  });

  it('says so when the path holds no manifests', () => {
    expect(() => buildObjects(files({ 'a.yaml': 'kind: x\n' }), 'missing')).toThrow(/no manifests under path "missing"/);
  });
});

describe('ArtifactCache', () => {
  it('evicts the least recently used artifacts beyond its byte budget', () => {
    const cache = new ArtifactCache(10);
    cache.set('sha256:a', files({ f: '12345' }));
    cache.set('sha256:b', files({ f: '12345' }));
    cache.get('sha256:a');
    cache.set('sha256:c', files({ f: '12345' }));
    expect([cache.get('sha256:a'), cache.get('sha256:b'), cache.get('sha256:c')].map(Boolean)).toEqual([true, false, true]);
  });
});
