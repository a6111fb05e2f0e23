// Variable substitution: Flux's postBuild.substitute semantics on built objects.
import { describe, expect, it } from 'vitest';
import { buildObjects } from './artifact.ts';
import type { KubeObject } from './kube/client.ts';
import { MASK, SubstitutionError, maskSecretValues, substituteObject, substituteObjects, substituteText } from './substitute.ts';

/** Objects as the agent builds them from an artifact's YAML. */
const built = (yaml: string) => buildObjects(new Map([['manifests.yaml', Buffer.from(yaml)]]), '.');

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

  it('takes names every object has for variables like any other: unset unless given, and never a prototype', () => {
    expect(failure(() => substituteText('${constructor}${__proto__}${toString}', vars({})))).toBe('variables ${constructor}, ${__proto__}, ${toString} have no value and no default');
    expect(substituteText('${constructor}|${__proto__:=d}', vars({ constructor: 'c' }))).toBe('c|d');
    const object = substituteObject(configMap({ '${key}': '${key}' }), vars({ key: '__proto__' }));
    expect(Object.getPrototypeOf(object.data)).toBe(Object.prototype);
    expect(Object.hasOwn(object.data as object, '__proto__')).toBe(true);
    expect(JSON.parse(JSON.stringify(object)).data).toEqual(JSON.parse('{"__proto__":"__proto__"}'));
  });

  it('bounds the output however many references there are', () => {
    const values = vars({ big: 'x'.repeat(4096) });
    expect(substituteText('${big}'.repeat(10), values, 50_000)).toHaveLength(40_960);
    expect(failure(() => substituteText('${big}'.repeat(1000), values, 1_000_000))).toBe('more than 1000000 characters after substitution');
  });
});

describe('substituteObject', () => {
  it('substitutes keys and values; a reference written as a plain scalar takes its YAML type, a quoted one stays a string, as in Flux', () => {
    const [object] = built(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-\${cluster_name}
  namespace: web
  labels:
    region: \${cluster_region}
    zone: "\${zone}"
spec:
  replicas: \${replicas:=1}
  paused: \${paused:=false}
  progressDeadlineSeconds: \${missing_number:=600}
  template:
    metadata:
      annotations:
        \${key}: v
        note: replicas \${replicas}
        port: "\${port}"
        single: '\${replicas}'
        empty: \${nothing:=}
`) as [any];
    const result = substituteObject(object, vars({ cluster_name: 'prod-us-1', cluster_region: 'us', zone: '1', replicas: '3', key: 'team', port: '8080' })) as any;
    expect(result.metadata).toEqual({ name: 'web-prod-us-1', namespace: 'web', labels: { region: 'us', zone: '1' } });
    expect(result.spec.replicas).toBe(3);
    expect(result.spec.paused).toBe(false);
    expect(result.spec.progressDeadlineSeconds).toBe(600);
    expect(result.spec.template.metadata.annotations).toEqual({ team: 'v', note: 'replicas 3', port: '8080', single: '3', empty: null });
    // Whatever is substituted, the object is plain JSON again, and the one built is not changed.
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
    expect(String(object.metadata.name)).toBe('web-${cluster_name}');
  });

  it('keeps a plain scalar whose value YAML reads as .inf or .nan as text (JSON has no such number)', () => {
    const [object] = built('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: ${a}\n  b: ${b}\n  c: ${c}\n') as [any];
    const result = substituteObject(object, vars({ a: '.inf', b: '.nan', c: '-.Inf' })) as any;
    expect(result.data).toEqual({ a: '.inf', b: '.nan', c: '-.Inf' });
  });

  it('gives back plain strings where nothing is substituted (substitution off, or the object opted out)', () => {
    const objects = built('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  script: ${HOME}\n');
    const [off] = substituteObjects(objects, null) as [any];
    expect(off.data.script).toBe('${HOME}');
    expect(typeof off.data.script).toBe('string');
  });

  it('keeps multi-line strings multi-line and removes nothing else', () => {
    const script = '#!/bin/sh\necho "$${HOME}" ${greeting}\necho $PATH\n';
    const result = substituteObject(configMap({ 'run.sh': script }), vars({ greeting: 'hello' })) as any;
    expect(result.data['run.sh']).toBe('#!/bin/sh\necho "${HOME}" hello\necho $PATH\n');
  });

  it('names the object and the variable when a variable is missing', () => {
    expect(failure(() => substituteObject(configMap({ a: '${db_host}' }), vars({})))).toBe('ConfigMap/web/settings: variable ${db_host} has no value and no default');
    expect(failure(() => substituteObject(configMap({ a: '${db_host}', b: ['${db_port} ${db_host}'] }, { labels: { '${team}': 'x' } }), vars({})))).toBe(
      'ConfigMap/web/settings: variables ${team}, ${db_host}, ${db_port} have no value and no default',
    );
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
    const twoKeys = configMap({ '${a}': 'x', b: 'y' });
    expect(failure(() => substituteObject(twoKeys, vars({ a: 'b' })))).toBe('ConfigMap/web/settings: two keys at /data are "b" after substitution');
    const named = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '${name}' } } as KubeObject;
    expect(failure(() => substituteObject(named, vars({ name: '' })))).toBe('ConfigMap/${name}: not a valid object after substitution (it needs apiVersion, kind and metadata.name)');
  });

  it('substitutes within the scalar a reference stands in: a value cannot add fields, lines or structure', () => {
    const [object] = built('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  inline: prefix ${v}\n  whole: ${v}\n  quote: "${q}"\n');
    const result = substituteObject(object!, vars({ v: '{evil: true}\nx: y', q: "it's \"quoted\"" })) as any;
    expect(result.data).toEqual({ inline: 'prefix {evil: true}\nx: y', whole: '{evil: true}\nx: y', quote: 'it\'s "quoted"' });
  });

  it('bounds each object after substitution', () => {
    const object = configMap(Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`k${i}`, '${big}'])));
    expect(failure(() => substituteObject(object, vars({ big: 'x'.repeat(4096) })))).toMatch(/^ConfigMap\/web\/settings: more than \d+ characters added by substitution$/);
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
