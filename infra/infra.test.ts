// The deployed resources must be the ones the code expects. SST itself needs AWS, so its
// constructors are recorded here; the arguments are what is under test.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createTableInput, TABLE } from '../functions/storage/schema.ts';
import * as lambdaEntry from '../functions/lambda.ts';
import { deployControlPlane } from './control-plane.ts';
import { LAMBDA_HANDLER } from './definitions.ts';

function recordSst() {
  const created: Record<string, { type: string; args: any }> = {};
  const resource = (type: string) =>
    class {
      name: string;
      value: string;
      url: string;
      arn: string;
      constructor(name: string, args?: unknown) {
        created[name] = { type, args };
        this.arn = `${name}.arn`;
        this.name = `${name}.name`;
        this.value = `${name}.value`;
        this.url = `${name}.url`;
      }
    };
  (globalThis as any).sst = {
    aws: { Dynamo: resource('Dynamo'), Bucket: resource('Bucket'), Function: resource('Function'), Cron: resource('Cron') },
    Secret: resource('Secret'),
  };
  (globalThis as any).aws = { ssm: { Parameter: resource('ssm.Parameter') } };
  (globalThis as any).$app = { stage: 'test' };
  return created;
}

describe('infrastructure', () => {
  it('declares the table exactly as the storage layer and the embedded bootstrap define it', () => {
    const created = recordSst();
    deployControlPlane();
    const table = created.Table!;
    expect(table.type).toBe('Dynamo');
    const local = createTableInput('x');
    expect(table.args.primaryIndex).toEqual({ hashKey: 'pk', rangeKey: 'sk' });
    expect(Object.keys(table.args.fields).sort()).toEqual(local.AttributeDefinitions!.map((a) => a.AttributeName).sort());
    expect(table.args.globalIndexes).toEqual(
      Object.fromEntries(
        local.GlobalSecondaryIndexes!.map((index) => [
          index.IndexName,
          { hashKey: index.KeySchema![0]!.AttributeName, rangeKey: index.KeySchema![1]!.AttributeName },
        ]),
      ),
    );
    expect(table.args.ttl).toBe(TABLE.ttlAttribute);
  });

  it('declares the function on Node 22+ with a Function URL, the settings lambda.ts reads, and the secrets', async () => {
    const created = recordSst();
    const outputs = deployControlPlane();
    const fn = created.Api!;
    expect(fn.args.runtime).toMatch(/^nodejs(2[2-9]|[3-9]\d)\.x$/);
    expect(fn.args.url).toBe(true);
    expect(fn.args.handler).toBe(LAMBDA_HANDLER);
    const [file, exported] = LAMBDA_HANDLER.split('.');
    expect(file).toBe('functions/lambda');
    expect(typeof (lambdaEntry as Record<string, unknown>)[exported!]).toBe('function');
    const lambdaSource = await readFile(new URL(`../${file}.ts`, import.meta.url), 'utf8');
    for (const variable of Object.keys(fn.args.environment)) expect(lambdaSource).toContain(variable);
    expect(fn.args.environment).toMatchObject({
      FLOTILLA_TABLE: 'Table.name',
      FLOTILLA_BUCKET: 'Reports.name',
      FLOTILLA_SIGNING_KEYS_PARAMETER: 'SigningKeysParameter.name',
      FLOTILLA_OIDC: 'OidcIssuers.value',
    });
    expect(created.SigningKeys?.type).toBe('Secret');
    expect(created.Reports?.type).toBe('Bucket');
    expect(outputs.url).toBe('Api.url');
    // a successful invocation writes no log line: the platform's are at WARN, in JSON
    expect(fn.args.transform.function.loggingConfig).toMatchObject({ logFormat: 'JSON', systemLogLevel: 'WARN' });
  });

  it('keeps the signing keys out of the function configuration: an encrypted parameter only its function may read', () => {
    const created = recordSst();
    deployControlPlane();
    const fn = created.Api!;
    expect(Object.values(fn.args.environment)).not.toContain('SigningKeys.value');
    expect(Object.keys(fn.args.environment)).not.toContain('FLOTILLA_SIGNING_KEYS');
    const parameter = created.SigningKeysParameter!;
    expect(parameter).toMatchObject({ type: 'ssm.Parameter', args: { type: 'SecureString', value: 'SigningKeys.value', name: '/flotilla/test/signing-keys' } });
    expect(fn.args.permissions).toEqual([{ actions: ['ssm:GetParameter'], resources: ['SigningKeysParameter.arn'] }]);
  });

  it('runs the clock on a schedule, with the same settings and rights as the API function', () => {
    const created = recordSst();
    deployControlPlane();
    const clock = created.Clock!;
    expect(clock.type).toBe('Cron');
    expect(clock.args.schedule).toMatch(/^rate\(1 minute\)$/);
    expect(clock.args.function.handler).toBe('functions/lambda.clock');
    expect(typeof (lambdaEntry as Record<string, unknown>).clock).toBe('function');
    expect(clock.args.function.environment).toEqual(created.Api!.args.environment);
    expect(clock.args.function.permissions).toEqual(created.Api!.args.permissions);
  });

  it('has an sst.config.ts that deploys this module', async () => {
    const config = await readFile(new URL('../sst.config.ts', import.meta.url), 'utf8');
    expect(config).toContain("import('./infra/control-plane.ts')");
    expect(config).toContain('deployControlPlane()');
  });
});
