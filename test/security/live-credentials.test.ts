import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { CLOSE_SIGNED_OUT, LiveCredentials } from '../../src/http/live-credentials.ts';
import { createTestDatabase } from '../helpers/db.ts';

/**
 * The credential re-check on a real database: a socket tracked while a round's queries run was
 * not asked about, so that round must leave it open (it used to close it as "signed out", which
 * showed as a live socket of a valid API token dropping under load).
 */
let handle: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  handle = await createTestDatabase();
});
afterAll(async () => {
  await handle?.drop();
});

/** Stands in for a ws socket: what LiveCredentials uses of it (once, close). */
function socket() {
  const closed: number[] = [];
  const ws = { once: () => ws, close: (code: number) => closed.push(code) };
  return { ws: ws as unknown as WebSocket, closed };
}

describe('live credentials re-check', () => {
  it('judges only the sockets known when the round began', async () => {
    const live = new LiveCredentials({ db: handle.db, log: pino({ level: 'silent' }), intervalMs: 60_000 });
    const gone = socket();
    live.track(gone.ws, { kind: 'session', id: randomUUID() });
    const round = live.recheck();
    // Tracked while the round's queries run; its token exists nowhere either.
    const late = socket();
    live.track(late.ws, { kind: 'api_token', id: randomUUID() });
    await round;
    expect(gone.closed).toEqual([CLOSE_SIGNED_OUT]);
    expect(late.closed).toEqual([]);
    // The next round asks about it, and closes it.
    await live.recheck();
    expect(late.closed).toEqual([CLOSE_SIGNED_OUT]);
    live.stop();
  });
});
