// Brings a table of the embedded default (dynalite, under `npm start`'s data directory) that lacks
// an index of the schema up to it. dynalite cannot add an index to a table, so the items move to a
// new table: copied to `<table>.upgrading`, the old table dropped and created again with every
// index, the items copied back, the copy dropped. Each step can be repeated: a start interrupted
// anywhere finishes the upgrade on the next one (the copy is only dropped once it is back).
// Items keep their attributes: old events get no outbox mark, so nothing old is notified.
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, type DynamoDBClient, type TableDescription } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { createTableInput } from './schema.ts';

async function describe(dynamo: DynamoDBClient, name: string): Promise<TableDescription | null> {
  try {
    return (await dynamo.send(new DescribeTableCommand({ TableName: name }))).Table ?? null;
  } catch (err) {
    if ((err as { name?: string }).name === 'ResourceNotFoundException') return null;
    throw err;
  }
}

async function waitFor(dynamo: DynamoDBClient, name: string, exists: boolean): Promise<void> {
  for (let wait = 0; wait < 200; wait++) {
    const table = await describe(dynamo, name);
    if (exists ? table?.TableStatus === 'ACTIVE' : table === null) return;
    await new Promise((resume) => setTimeout(resume, 50));
  }
  throw new Error(`table ${name} did not become ${exists ? 'active' : 'deleted'}`);
}

async function create(dynamo: DynamoDBClient, name: string): Promise<void> {
  if (!(await describe(dynamo, name))) await dynamo.send(new CreateTableCommand(createTableInput(name)));
  await waitFor(dynamo, name, true);
}

async function drop(dynamo: DynamoDBClient, name: string): Promise<void> {
  if (await describe(dynamo, name)) await dynamo.send(new DeleteTableCommand({ TableName: name }));
  await waitFor(dynamo, name, false);
}

/** Every item of `from` put into `to` (puts: repeating it changes nothing). */
async function copy(dynamo: DynamoDBClient, from: string, to: string): Promise<void> {
  const doc = DynamoDBDocumentClient.from(dynamo);
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: from, ExclusiveStartKey: start, Limit: 25 }));
    let requests = (page.Items ?? []).map((Item) => ({ PutRequest: { Item } }));
    while (requests.length) {
      const out = await doc.send(new BatchWriteCommand({ RequestItems: { [to]: requests } }));
      requests = (out.UnprocessedItems?.[to] ?? []) as typeof requests;
    }
    start = page.LastEvaluatedKey;
  } while (start);
}

const hasEveryIndex = (table: TableDescription) => {
  const present = new Set((table.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  return (createTableInput(table.TableName!).GlobalSecondaryIndexes ?? []).every((index) => present.has(index.IndexName));
};

/** The table as the schema defines it, with its items; created when missing. */
export async function ensureTable(dynamo: DynamoDBClient, name: string): Promise<void> {
  const copyName = `${name}.upgrading`;
  const table = await describe(dynamo, name);
  if (table && !hasEveryIndex(table)) {
    await create(dynamo, copyName);
    await copy(dynamo, name, copyName);
    await drop(dynamo, name);
  }
  await create(dynamo, name);
  if (await describe(dynamo, copyName)) {
    await copy(dynamo, copyName, name);
    await drop(dynamo, copyName);
  }
}
