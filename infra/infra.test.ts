// The deployed resources must be the ones the code expects. SST itself needs AWS, so its
// constructors are recorded here; the arguments are what is under test.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTableInput, TABLE } from '../functions/storage/schema.ts';
import * as lambdaEntry from '../functions/lambda.ts';
import { deployControlPlane } from './control-plane.ts';
import { CLOCK_HANDLER, LAMBDA_BUNDLE, LAMBDA_HANDLER, NOTIFY_HANDLER, PRODUCTION_STAGE } from './definitions.ts';

function recordSst(stage = 'test') {
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
      subscribe(name: string, subscriber: unknown, args?: unknown) {
        created[name] = { type: `${type}.subscribe`, args: { subscriber, ...(args as object) } };
      }
    };
  (globalThis as any).sst = {
    aws: { Dynamo: resource('Dynamo'), Bucket: resource('Bucket'), Function: resource('Function'), Cron: resource('Cron') },
    Secret: resource('Secret'),
  };
  (globalThis as any).aws = {
    ssm: { Parameter: resource('ssm.Parameter') },
    s3: {
      BucketServerSideEncryptionConfiguration: resource('s3.BucketServerSideEncryptionConfiguration'),
      BucketLifecycleConfiguration: resource('s3.BucketLifecycleConfiguration'),
    },
  };
  (globalThis as any).$app = { stage };
  (globalThis as any).$interpolate = (strings: TemplateStringsArray, ...values: unknown[]) =>
    strings.reduce((out, part, index) => out + part + (index < values.length ? String(values[index]) : ''), '');
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

  it('keeps data through mistakes: point-in-time recovery always, deletion protection in production', () => {
    for (const stage of ['dev', PRODUCTION_STAGE]) {
      const created = recordSst(stage);
      deployControlPlane();
      const table = created.Table!.args;
      expect(table.transform.table.pointInTimeRecovery).toEqual({ enabled: true });
      expect(table.deletionProtection).toBe(stage === PRODUCTION_STAGE);
    }
  });

  it('keeps the reports bucket versioned, encrypted, private and HTTPS-only', () => {
    const created = recordSst();
    deployControlPlane();
    const bucket = created.Reports!;
    expect(bucket.type).toBe('Bucket');
    expect(bucket.args.versioning).toBe(true);
    expect(bucket.args.enforceHttps).toBe(true);
    expect(bucket.args.access).toBeUndefined();
    expect(bucket.args.transform.publicAccessBlock).toEqual({ blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true });
    const encryption = created.ReportsEncryption!;
    expect(encryption.args.bucket).toBe('Reports.name');
    expect(encryption.args.rules).toEqual([{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' }, bucketKeyEnabled: true }]);
    const lifecycle = created.ReportsLifecycle!;
    expect(lifecycle.args.bucket).toBe('Reports.name');
    expect(lifecycle.args.rules[0]).toMatchObject({ status: 'Enabled', noncurrentVersionExpiration: { noncurrentDays: expect.any(Number) } });
  });

  it('gives the function only its table, indexes, bucket and signing-keys parameter', () => {
    const created = recordSst();
    deployControlPlane();
    const fn = created.Api!.args;
    // SST's `link` would add dynamodb:* and s3:* on these resources.
    expect(fn.link).toBeUndefined();
    const statements = fn.permissions as { actions: string[]; resources: string[] }[];
    for (const statement of statements) {
      for (const action of statement.actions) expect(action).not.toMatch(/\*/);
      for (const resource of statement.resources) expect(resource).not.toBe('*');
    }
    const grants = (resource: string) => statements.filter((statement) => statement.resources.includes(resource)).flatMap((statement) => statement.actions).sort();
    expect(grants('Table.arn')).toEqual(['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    expect(grants('Table.arn/index/*')).toEqual(grants('Table.arn'));
    expect(grants('Reports.arn/*')).toEqual(['s3:GetObject', 's3:PutObject']);
    expect(grants('Reports.arn')).toEqual(['s3:ListBucket']);
    expect(grants('SigningKeysParameter.arn')).toEqual(['ssm:GetParameter']);
    const covered = new Set(statements.flatMap((statement) => statement.resources));
    expect([...covered].sort()).toEqual(['Reports.arn', 'Reports.arn/*', 'SigningKeysParameter.arn', 'Table.arn', 'Table.arn/index/*']);
  });

  it('declares the function on Node 24 (arm64) from the built bundle, with a Function URL, the settings lambda.ts reads, and the secrets', async () => {
    const created = recordSst();
    const outputs = deployControlPlane();
    const fn = created.Api!;
    expect(fn.args.runtime).toBe('nodejs24.x');
    expect(fn.args.architecture).toBe('arm64');
    expect(fn.args.url).toBe(true);
    // The bundle `npm run build` writes (scripts/build.ts), handler at its root.
    expect(fn.args.bundle).toBe(LAMBDA_BUNDLE);
    expect(fn.args.handler).toBe(LAMBDA_HANDLER);
    const build = await readFile(new URL('../scripts/build.ts', import.meta.url), 'utf8');
    expect(build).toContain(`join(ROOT, 'dist', 'lambda')`);
    expect(LAMBDA_BUNDLE).toBe(join('dist', 'lambda'));
    const [file, exported] = LAMBDA_HANDLER.split('.');
    expect(file).toBe('index');
    expect(build).toContain(`'functions/lambda.ts', join(outdir, 'index.mjs')`);
    expect(typeof (lambdaEntry as Record<string, unknown>)[exported!]).toBe('function');
    const lambdaSource = await readFile(new URL('../functions/lambda.ts', import.meta.url), 'utf8');
    for (const variable of Object.keys(fn.args.environment).filter((name) => name.startsWith('FLOTILLA_'))) expect(lambdaSource).toContain(variable);
    expect(fn.args.environment).toMatchObject({
      FLOTILLA_TABLE: 'Table.name',
      FLOTILLA_BUCKET: 'Reports.name',
      FLOTILLA_SIGNING_KEYS_PARAMETER: 'SigningKeysParameter.name',
      FLOTILLA_OIDC: 'OidcIssuers.value',
      FLOTILLA_UI_OIDC: 'DashboardOidc.value',
    });
    expect(created.SigningKeys?.type).toBe('Secret');
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
    expect(fn.args.permissions).toContainEqual({ actions: ['ssm:GetParameter'], resources: ['SigningKeysParameter.arn'] });
  });

  it('runs the clock on a schedule, with the same bundle, settings and rights as the API function', () => {
    const created = recordSst();
    deployControlPlane();
    const clock = created.Clock!;
    expect(clock.type).toBe('Cron');
    expect(clock.args.schedule).toMatch(/^rate\(1 minute\)$/);
    expect(clock.args.function.handler).toBe(CLOCK_HANDLER);
    expect(clock.args.function.bundle).toBe(LAMBDA_BUNDLE);
    expect(typeof (lambdaEntry as Record<string, unknown>)[CLOCK_HANDLER.split('.')[1]!]).toBe('function');
    expect(clock.args.function.environment).toEqual(created.Api!.args.environment);
    expect(clock.args.function.permissions).toEqual(created.Api!.args.permissions);
  });

  it('runs the notification dispatcher on the table stream and every minute, with the API function’s rights and settings plus the dashboard URL', () => {
    const created = recordSst();
    deployControlPlane();
    expect(created.Table!.args.stream).toBe('new-image');
    const schedule = created.Notify!;
    expect(schedule.type).toBe('Cron');
    expect(schedule.args.schedule).toBe('rate(1 minute)');
    const stream = created.NotifyOnEvent!;
    expect(stream.type).toBe('Dynamo.subscribe');
    // only items entering the outbox (new events) wake it; the dispatcher ignores the records themselves
    expect(stream.args.filters).toEqual([{ dynamodb: { NewImage: { gsi3pk: { S: ['OUTBOX'] } } } }]);
    expect(TABLE.indexes.byDue.partitionKey).toBe('gsi3pk');
    for (const fn of [schedule.args.function, stream.args.subscriber]) {
      expect(fn.handler).toBe(NOTIFY_HANDLER);
      expect(fn.bundle).toBe(LAMBDA_BUNDLE);
      expect(typeof (lambdaEntry as Record<string, unknown>)[NOTIFY_HANDLER.split('.')[1]!]).toBe('function');
      expect(fn.permissions).toEqual(created.Api!.args.permissions);
      expect(fn.environment).toEqual({ ...created.Api!.args.environment, FLOTILLA_PUBLIC_URL: 'Api.url' });
      expect(fn.timeout).toBe('60 seconds');
    }
  });

  it('has an sst.config.ts that deploys this module, with deploy building the bundle first', async () => {
    const config = await readFile(new URL('../sst.config.ts', import.meta.url), 'utf8');
    expect(config).toContain("import('./infra/control-plane.ts')");
    expect(config).toContain('deployControlPlane()');
    const scripts = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')).scripts as Record<string, string>;
    expect(scripts['deploy']).toMatch(/^npm run build && npx --yes sst@4\.\d+\.\d+ deploy/);
  });
});
