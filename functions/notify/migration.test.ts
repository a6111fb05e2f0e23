// A data directory from before notifications: its table lacks the byDue index. `npm start`
// upgrades it when it connects (storage/upgrade.ts): every item kept, old events not notified,
// new ones in the outbox; a start interrupted mid-upgrade finishes it the next time.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createClients } from '../clients.ts';
import { connectStorage, startEmbeddedStorage } from '../embedded-storage.ts';
import { createStorage } from '../storage/index.ts';
import { keys } from '../storage/keys.ts';
import { createTableInput } from '../storage/schema.ts';

describe('an old data directory', () => {
  it('is upgraded at start: byDue added, every item kept, old events not notified, new ones in the outbox', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-migrate-'));
    const storage = await startEmbeddedStorage(dir, { persist: true });
    try {
      const old = createClients(storage.endpoints);
      const input = createTableInput('flotilla');
      await old.dynamo.send(
        new CreateTableCommand({
          ...input,
          AttributeDefinitions: input.AttributeDefinitions!.filter((attribute) => !attribute.AttributeName!.startsWith('gsi3')),
          GlobalSecondaryIndexes: input.GlobalSecondaryIndexes!.filter((index) => index.IndexName !== 'byDue'),
        }),
      );
      const oldEvent = { id: '1'.repeat(12) + '0000' + 'b'.repeat(16), type: 'release.published', at: '2026-01-01T00:00:00.000Z', actor: 'ci', app: 'old', message: 'before notifications' };
      const key = keys.event(oldEvent.at, oldEvent.id);
      const { type: eventType, ...rest } = oldEvent;
      await DynamoDBDocumentClient.from(old.dynamo).send(new PutCommand({ TableName: 'flotilla', Item: { ...key, type: 'event', eventType, ...rest } }));
      await DynamoDBDocumentClient.from(old.dynamo).send(new PutCommand({ TableName: 'flotilla', Item: { pk: 'APP#old', sk: '#APP', type: 'app', name: 'old' } }));
      old.dynamo.destroy();
      old.s3.destroy();

      const clients = await connectStorage(storage.endpoints, 'flotilla', 'flotilla');
      const { Table } = await clients.dynamo.send(new DescribeTableCommand({ TableName: 'flotilla' }));
      expect(Table!.GlobalSecondaryIndexes!.map((index) => index.IndexName).sort()).toEqual(['byCluster', 'byCollection', 'byDue']);
      const { events, notifications } = createStorage(clients, { table: 'flotilla', bucket: 'flotilla' });
      const event = { id: '0'.repeat(12) + '0000' + 'a'.repeat(16), type: 'release.published', at: new Date().toISOString(), actor: 'ci', app: 'web', message: 'm' };
      await events.put(event);
      expect((await notifications.outbox(10)).map((found) => found.id), 'the old event is kept but not notified').toEqual([event.id]);
      const kept = await events.query({ since: '2026-01-01T00:00:00.000Z', until: '2026-01-01T23:59:59.999Z', limit: 10, order: 'asc' });
      expect(kept.events.map((found) => found.message)).toEqual(['before notifications']);
      expect(await createStorage(clients, { table: 'flotilla', bucket: 'flotilla' }).apps.get('old', true)).toMatchObject({ name: 'old' });
      const tables = await clients.dynamo.send(new ListTablesCommand({}));
      expect(tables.TableNames, 'the copy is gone').toEqual(['flotilla']);
      clients.dynamo.destroy();
      clients.s3.destroy();
    } finally {
      await storage.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('whose upgrade was interrupted after the old table was dropped is finished at the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-migrate-'));
    const storage = await startEmbeddedStorage(dir, { persist: true });
    try {
      const old = createClients(storage.endpoints);
      await old.dynamo.send(new CreateTableCommand(createTableInput('flotilla.upgrading')));
      await DynamoDBDocumentClient.from(old.dynamo).send(new PutCommand({ TableName: 'flotilla.upgrading', Item: { pk: 'APP#kept', sk: '#APP', type: 'app', name: 'kept' } }));
      old.dynamo.destroy();
      old.s3.destroy();
      const clients = await connectStorage(storage.endpoints, 'flotilla', 'flotilla');
      expect(await createStorage(clients, { table: 'flotilla', bucket: 'flotilla' }).apps.get('kept', true)).toMatchObject({ name: 'kept' });
      expect((await clients.dynamo.send(new ListTablesCommand({}))).TableNames).toEqual(['flotilla']);
      clients.dynamo.destroy();
      clients.s3.destroy();
    } finally {
      await storage.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
