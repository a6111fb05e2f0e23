// Proof that moto's server behaves like DynamoDB and S3 where Flotilla depends on it:
// conditional writes and object round-trips.
import { randomBytes } from 'node:crypto';
import { expect, test } from 'vitest';
import { ConditionalCheckFailedException, CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { requireTestEnv } from './inject.ts';

const { moto } = requireTestEnv();
const clientConfig = {
  endpoint: moto.endpoint,
  region: moto.region,
  credentials: { accessKeyId: moto.accessKeyId, secretAccessKey: moto.secretAccessKey },
};
const suffix = randomBytes(4).toString('hex');

test('DynamoDB: a second attribute_not_exists write fails with ConditionalCheckFailedException', async () => {
  const dynamo = new DynamoDBClient(clientConfig);
  const TableName = `env-proof-${suffix}`;
  await dynamo.send(
    new CreateTableCommand({
      TableName,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const put = (value: string) =>
    dynamo.send(
      new PutItemCommand({
        TableName,
        Item: { pk: { S: 'release#1' }, value: { S: value } },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  await put('first');
  const second = put('second');
  await expect(second).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  await expect(second).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
  const stored = await dynamo.send(new GetItemCommand({ TableName, Key: { pk: { S: 'release#1' } }, ConsistentRead: true }));
  expect(stored.Item?.value?.S).toBe('first');
});

test('S3: put then get returns the same bytes', async () => {
  const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  const Bucket = `env-proof-${suffix}`;
  await s3.send(new CreateBucketCommand({ Bucket }));
  const body = `bundle ${suffix}`;
  await s3.send(new PutObjectCommand({ Bucket, Key: 'bundles/app.tar', Body: body, ContentType: 'text/plain' }));
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'bundles/app.tar' }));
  expect(await got.Body?.transformToString()).toBe(body);
  expect(got.ContentType).toBe('text/plain');
});
