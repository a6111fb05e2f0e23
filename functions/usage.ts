// Per-request accounting of storage work, for benchmarks and cost models: DynamoDB calls and the
// capacity units DynamoDB itself reports (ConsumedCapacity), else estimated from item sizes by
// DynamoDB's rules; S3 calls. Off unless a listener is registered: then every request runs in an
// AsyncLocalStorage scope that the SDK middleware adds to, and each listener hears every request.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { MiddlewareHandler } from 'hono';

export interface Usage {
  dynamo: {
    calls: Record<string, number>;
    readUnits: number;
    writeUnits: number;
    /** Calls whose units came from DynamoDB's ConsumedCapacity, and calls whose units were estimated. */
    measured: number;
    estimated: number;
  };
  s3: { calls: Record<string, number> };
}

export interface RequestUsage {
  method: string;
  /** The route's path pattern (`/v1/clusters/:name`), not the concrete path. */
  route: string;
  status: number;
  usage: Usage;
}

type Listener = (request: RequestUsage) => void;
const listeners = new Set<Listener>();
const scope = new AsyncLocalStorage<Usage>();

export const emptyUsage = (): Usage => ({ dynamo: { calls: {}, readUnits: 0, writeUnits: 0, measured: 0, estimated: 0 }, s3: { calls: {} } });

/** Hears every request's usage until the returned function is called. */
export function onRequestUsage(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Runs `work` in a fresh scope and returns what it used (the clock's runs, a benchmark's direct calls). */
export async function measureUsage<T>(work: () => Promise<T>): Promise<{ result: T; usage: Usage }> {
  const usage = emptyUsage();
  const result = await scope.run(usage, work);
  return { result, usage };
}

/** The Hono middleware: a scope per request, reported when it ends. Free when nobody listens. */
export function usageScope(): MiddlewareHandler {
  return async function accountUsage(c, next) {
    if (listeners.size === 0) return next();
    const usage = emptyUsage();
    await scope.run(usage, next);
    const request = { method: c.req.method, route: c.req.routePath, status: c.res.status, usage };
    for (const listener of listeners) listener(request);
  };
}

const READS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand', 'GetCommand', 'BatchGetCommand']);
const SUPPORTS_CAPACITY = /^(Get|Put|Update|Delete|Query|Scan|BatchGet|BatchWrite|TransactWrite|TransactGet)/;

interface Capacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
}

/** SDK middleware for a DynamoDB client: asks for ConsumedCapacity inside a scope and adds it up. */
export const dynamoUsageMiddleware =
  (next: (args: any) => Promise<any>, context: { commandName?: string }) =>
  async (args: { input: Record<string, unknown> }) => {
    const usage = scope.getStore();
    const command = String(context.commandName ?? 'unknown');
    if (!usage) return next(args);
    if (SUPPORTS_CAPACITY.test(command)) args.input.ReturnConsumedCapacity = 'TOTAL';
    const output = await next(args);
    const name = command.replace(/Command$/, '');
    usage.dynamo.calls[name] = (usage.dynamo.calls[name] ?? 0) + 1;
    const reported = ([] as Capacity[]).concat(output.output?.ConsumedCapacity ?? []);
    const read = READS.has(command);
    if (reported.length > 0) {
      usage.dynamo.measured += 1;
      for (const capacity of reported) {
        const units = capacity.CapacityUnits ?? 0;
        usage.dynamo.readUnits += capacity.ReadCapacityUnits ?? (read ? units : 0);
        usage.dynamo.writeUnits += capacity.WriteCapacityUnits ?? (read ? 0 : units);
      }
    } else {
      usage.dynamo.estimated += 1;
      const units = estimatedUnits(command, args.input, output.output ?? {});
      if (read) usage.dynamo.readUnits += units;
      else usage.dynamo.writeUnits += units;
    }
    return output;
  };

/** SDK middleware for an S3 client: counts calls inside a scope. */
export const s3UsageMiddleware =
  (next: (args: any) => Promise<any>, context: { commandName?: string }) =>
  async (args: unknown) => {
    const usage = scope.getStore();
    if (usage) {
      const name = String(context.commandName ?? 'unknown').replace(/Command$/, '');
      usage.s3.calls[name] = (usage.s3.calls[name] ?? 0) + 1;
    }
    return next(args);
  };

/**
 * Capacity by DynamoDB's rules when the server does not report it: a read unit per 4 KB (halved
 * for eventually consistent reads; a query sums its items before rounding), a write unit per 1 KB
 * of the item written. Updates and deletes count the item as the request describes it.
 */
export function estimatedUnits(command: string, input: Record<string, unknown>, output: Record<string, unknown>): number {
  const consistent = input.ConsistentRead === true;
  const readUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);
  if (command.startsWith('GetItem')) return readUnits(itemBytes(output.Item));
  if (command.startsWith('Query') || command.startsWith('Scan')) {
    const items = (output.Items as unknown[] | undefined) ?? [];
    return readUnits(items.reduce<number>((sum, item) => sum + itemBytes(item), 0));
  }
  if (command.startsWith('BatchGet')) {
    const responses = Object.values((output.Responses as Record<string, unknown[]>) ?? {}).flat();
    return responses.reduce<number>((sum, item) => sum + readUnits(itemBytes(item)), 0);
  }
  if (command.startsWith('BatchWrite')) {
    const requests = Object.values((input.RequestItems as Record<string, { PutRequest?: { Item: unknown } }[]>) ?? {}).flat();
    return requests.reduce((sum, request) => sum + Math.max(1, Math.ceil(itemBytes(request.PutRequest?.Item) / 1024)), 0);
  }
  const written = command.startsWith('PutItem') ? input.Item : { ...(input.Key as object), ...(input.ExpressionAttributeValues as object) };
  return Math.max(1, Math.ceil(itemBytes(written) / 1024));
}

/** An item's size as DynamoDB counts it: attribute names plus values (UTF-8 strings, numbers ~ digits / 2 + 1). */
export function itemBytes(item: unknown): number {
  if (!item || typeof item !== 'object') return 0;
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += Buffer.byteLength(name) + valueBytes(value);
  return bytes;
}

function valueBytes(value: unknown): number {
  if (!value || typeof value !== 'object') return 1;
  const [type, inner] = Object.entries(value)[0] ?? ['NULL', null];
  switch (type) {
    case 'S':
      return Buffer.byteLength(String(inner));
    case 'N':
      return Math.ceil(String(inner).replace(/^-|\.|e.*$/gi, '').length / 2) + 1;
    case 'B':
      return (inner as Uint8Array).length;
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'M':
      return 3 + Object.entries(inner as object).reduce((sum, [key, child]) => sum + Buffer.byteLength(key) + valueBytes(child) + 1, 0);
    case 'L':
      return 3 + (inner as unknown[]).reduce<number>((sum, child) => sum + valueBytes(child) + 1, 0);
    case 'SS':
    case 'NS':
      return (inner as string[]).reduce((sum, member) => sum + Buffer.byteLength(member), 0);
    default:
      return 1;
  }
}
