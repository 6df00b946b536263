import { AppError } from '../errors.ts';

/**
 * The library's page cursor: the (created_at, id) of the last row served, opaque to clients
 * (base64url JSON). created_at travels as PostgreSQL's own text so its microseconds survive.
 */
export interface Cursor {
  createdAt: string;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)?$/;

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id])).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      typeof v[1] === 'string' &&
      TIMESTAMP.test(v[0]) &&
      UUID.test(v[1])
    ) {
      return { createdAt: v[0], id: v[1] };
    }
  } catch {
    // Falls through to the error below.
  }
  throw new AppError('INVALID_CURSOR');
}
