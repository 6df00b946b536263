import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';
import type { App } from './route-module.ts';

/**
 * PostgreSQL text cannot hold U+0000: a name, search or any string with it fails in the database
 * (a 500). Refused here once, for every route, as a 400 that says which field: no route's schema
 * has to remember it.
 */
export function refuseNulCharacters(app: App): void {
  app.addHook('preValidation', async (req: FastifyRequest) => {
    const where = findNul(req.query, 'query') ?? findNul(req.params, 'path') ?? findNul(req.body, 'body');
    if (where) {
      throw new AppError(
        'VALIDATION_FAILED',
        `Invalid request: ${where} contains a NUL character (U+0000), which text may not hold.`,
      );
    }
  });
}

/** The path of the first string holding U+0000, walked without recursion (bodies may nest deeply). */
function findNul(value: unknown, root: string): string | undefined {
  const stack: Array<[unknown, string]> = [[value, root]];
  while (stack.length > 0) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) return at;
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push([v[i], `${at}.${i}`]);
    } else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\0')) return `${at}.${k.replaceAll('\0', '\\0')}`;
        stack.push([x, `${at}.${k}`]);
      }
    }
  }
  return undefined;
}
