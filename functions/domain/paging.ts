// Lists page with a cursor: the position of the last item of a page, opaque to clients.
import type { Item } from '../storage/table.ts';
import { badRequest } from '../errors.ts';

export interface PageRequest {
  limit: number;
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

const KEY_ATTRIBUTES = ['pk', 'sk', 'gsi1pk', 'gsi1sk'];

/** A page's `next` position as a cursor. */
export function encodeCursor(next: Item | null): string | null {
  return next === null ? null : Buffer.from(JSON.stringify(next)).toString('base64url');
}

/** Where a page of `collection` starts; a cursor of another list, or a forged one, is a 400. */
export function decodeCursor(cursor: string | undefined, collection: string): Item | undefined {
  if (cursor === undefined) return undefined;
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    position = null;
  }
  const valid =
    position !== null &&
    typeof position === 'object' &&
    !Array.isArray(position) &&
    Object.keys(position).length === KEY_ATTRIBUTES.length &&
    KEY_ATTRIBUTES.every((key) => {
      const value = (position as Item)[key];
      // DynamoDB key values are non-empty, sort keys at most 1,024 bytes
      return typeof value === 'string' && value.length > 0 && Buffer.byteLength(value) <= 1024;
    });
  if (!valid) throw badRequest('query.cursor: not a cursor of this API');
  if ((position as Item).gsi1pk !== collection) throw badRequest('query.cursor: a cursor of another list; pass the same filters as for the first page');
  return position as Item;
}
