// Variable substitution: Flux's postBuild.substitute semantics on built objects.
import { describe, expect, it } from 'vitest';
import type { KubeObject } from './kube/client.ts';
import { MASK, SubstitutionError, maskSecretValues, substituteObject, substituteText } from './substitute.ts';

const vars = (entries: Record<string, string>) => new Map(Object.entries(entries));
const configMap = (data: Record<string, unknown>, metadata: Record<string, unknown> = {}): KubeObject =>
  ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'web', ...metadata }, data }) as KubeObject;

function failure(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(SubstitutionError);
    return (error as Error).message;
  }
  throw new Error('expected a SubstitutionError');
}

describe('substituteText', () => {
  it('replaces ${var} wherever it stands, and leaves $var, $$ and a lone $ alone', () => {
    const values = vars({ region: 'us-east-1', name: 'prod-us-1' });
    expect(substituteText('${name}.${region}.example.com', values)).toBe('prod-us-1.us-east-1.example.com');
    expect(substituteText('echo $region $$ $ cost: 5$ ${region}', values)).toBe('echo $region $$ $ cost: 5$ us-east-1');
  });

  it('turns $${var} into a literal ${var}, never substituted', () => {
    const values = vars({ HOME: '/root', a: 'A' });
    expect(substituteText('cd $${HOME} && echo ${a}', values)).toBe('cd ${HOME} && echo A');
    expect(substituteText('$${undefined_but_escaped:=x}', values)).toBe('${undefined_but_escaped:=x}');
    expect(substituteText('$$${a}', values)).toBe('$${a}');
  });

  it('uses defaults: := and :- when unset or empty, = and - only when unset', () => {
    const values = vars({ empty: '', set: 'value' });
    expect(substituteText('${missing:=fallback}|${empty:=fallback}|${set:=fallback}', values)).toBe('fallback|fallback|value');
    expect(substituteText('${missing:-fallback}|${empty:-fallback}', values)).toBe('fallback|fallback');
    expect(substituteText('${missing=fallback}|${empty=fallback}|${missing-x}|${empty-x}', values)).toBe('fallback||x|');
    expect(substituteText('${missing:=}|${missing:=a b: c}', values)).toBe('|a b: c');
  });

  it('is strict: every variable without a value and without a default is named', () => {
    expect(failure(() => substituteText('${a} ${b} ${a} ${c:=ok}', vars({})))).toBe('variables ${a}, ${b} have no value and no default');
    expect(failure(() => substituteText('x: ${only}', vars({})))).toBe('variable ${only} has no value and no default');
    // An empty value is a value.
    expect(substituteText('[${empty}]', vars({ empty: '' }))).toBe('[]');
  });

  it('refuses references that are not variable names, with the way out', () => {
    for (const text of ['${1abc}', '${a-b-c', '${}', '${a b}', '${#arr[@]}', '${var^^}', '${x.y}']) {
      expect(failure(() => substituteText(text, vars({ a: '1', var: 'v', x: 'x' })))).toMatch(/is not a variable reference .*write \$\$\{ for a literal \$\{, or annotate the object kustomize\.toolkit\.fluxcd\.io\/substitute: disabled/);
    }
    expect(substituteText('${_under_score9}', vars({ _under_score9: 'ok' }))).toBe('ok');
  });

  it('never expands a substituted value or a default again', () => {
    const values = vars({ a: '${b}', b: 'B', c: '$${b}' });
    expect(substituteText('${a}|${c}|${missing:=${b}', values)).toBe('${b}|$${b}|${b');
    expect(substituteText('${missing:=${b}}', values)).toBe('${b}');
  });

  it('bounds the output however many references there are', () => {
    const values = vars({ big: 'x'.repeat(4096) });
    expect(substituteText('${big}'.repeat(10), values, 50_000)).toHaveLength(40_960);
    expect(failure(() => substituteText('${big}'.repeat(1000), values, 1_000_000))).toBe('more than 1000000 characters after substitution');
  });
});

describe('substituteObject', () => {
  it('substitutes keys and values in the serialized form; whole-scalar values take their YAML type, as Flux does', () => {
    const object = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web-${cluster_name}', namespace: 'web', labels: { region: '${cluster_region}' } },
      spec: { replicas: '${replicas:=1}', paused: '${paused:=false}', template: { metadata: { annotations: { '${key}': 'v', note: 'replicas ${replicas}' } } } },
    } as unknown as KubeObject;
    const result = substituteObject(object, vars({ cluster_name: 'prod-us-1', cluster_region: 'us', replicas: '3', key: 'team' })) as any;
    expect(result.metadata).toEqual({ name: 'web-prod-us-1', namespace: 'web', labels: { region: 'us' } });
    expect(result.spec.replicas).toBe(3);
    expect(result.spec.paused).toBe(false);
    expect(result.spec.template.metadata.annotations).toEqual({ team: 'v', note: 'replicas 3' });
    // The input object is not changed.
    expect(object.metadata.name).toBe('web-${cluster_name}');
  });

  it('keeps multi-line strings multi-line and removes nothing else', () => {
    const script = '#!/bin/sh\necho "$${HOME}" ${greeting}\necho $PATH\n';
    const result = substituteObject(configMap({ 'run.sh': script }), vars({ greeting: 'hello' })) as any;
    expect(result.data['run.sh']).toBe('#!/bin/sh\necho "${HOME}" hello\necho $PATH\n');
  });

  it('names the object and the variable when a variable is missing', () => {
    expect(failure(() => substituteObject(configMap({ a: '${db_host}' }), vars({})))).toBe('ConfigMap/web/settings: variable ${db_host} has no value and no default');
  });

  it('leaves an object that opts out (the Flux annotation or label, or the Flotilla one) as it is', () => {
    for (const metadata of [
      { annotations: { 'kustomize.toolkit.fluxcd.io/substitute': 'disabled' } },
      { labels: { 'kustomize.toolkit.fluxcd.io/substitute': 'disabled' } },
      { annotations: { 'app.flotilla.dev/substitute': 'disabled' } },
    ]) {
      const object = configMap({ script: 'echo ${HOME} ${undefined_var}' }, metadata);
      expect(substituteObject(object, vars({ HOME: 'x' }))).toBe(object);
    }
    // Any other value of the annotation does not opt out.
    expect(() => substituteObject(configMap({ s: '${nope}' }, { annotations: { 'kustomize.toolkit.fluxcd.io/substitute': 'enabled' } }), vars({}))).toThrow(SubstitutionError);
  });

  it('fails the app naming the object when the result is no longer an object', () => {
    const object = configMap({ a: 'x: ${v}' });
    // A value that closes the quoting of the scalar it lands in.
    expect(failure(() => substituteObject(object, vars({ v: "it's" })))).toMatch(/^ConfigMap\/web\/settings: not a valid object after substitution: /);
    const named = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '${name}' } } as KubeObject;
    expect(failure(() => substituteObject(named, vars({ name: '' })))).toBe('ConfigMap/${name}: not a valid object after substitution (it needs apiVersion, kind and metadata.name)');
  });

  it('substitutes within the scalar a reference stands in: YAML in a value fails the object instead of changing its shape', () => {
    // Newlines are removed from values when they are loaded (loadVariables, as Flux does), so a
    // value cannot add lines; what it could still break is the scalar it lands in.
    expect(substituteObject(configMap({ a: 'prefix ${v}' }), vars({ v: 'x,y [z]' })).data).toEqual({ a: 'prefix x,y [z]' });
    expect(failure(() => substituteObject(configMap({ a: 'prefix ${v}' }), vars({ v: 'x: y' })))).toMatch(/^ConfigMap\/web\/settings: not a valid object after substitution: bad indentation/);
  });

  it('bounds each object after substitution', () => {
    const object = configMap(Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`k${i}`, '${big}'])));
    expect(failure(() => substituteObject(object, vars({ big: 'x'.repeat(4096) })))).toMatch(/^ConfigMap\/web\/settings: more than \d+ characters after substitution$/);
  });
});

describe('maskSecretValues', () => {
  it('replaces every Secret value in strings and keys, longest first', () => {
    const drift = [{ object: 'ConfigMap/web/db', fields: [{ path: '/data/url', before: 'postgres://u:hunter22@db', after: { nested: ['hunter22', 'hunter2'] } }], corrected: true }];
    expect(maskSecretValues({ drift, message: 'hunter2 is wrong' }, ['hunter2', 'hunter22'])).toEqual({
      drift: [{ object: 'ConfigMap/web/db', fields: [{ path: '/data/url', before: `postgres://u:${MASK}@db`, after: { nested: [MASK, MASK] } }], corrected: true }],
      message: `${MASK} is wrong`,
    });
    expect(maskSecretValues({ a: 1 }, [])).toEqual({ a: 1 });
  });
});
