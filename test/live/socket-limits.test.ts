import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { connectLive, insertSession, insertVideo, type LiveClient } from './helpers.ts';

/** Live sockets as a hostile client uses them: floods, many sockets, oversized messages. */
const MAX_SOCKETS = 3;
let server: TestServer;
const clients: LiveClient[] = [];
beforeAll(async () => {
  server = await startTestServer({ CLIPDOCK_ROLE: 'api', MAX_SOCKETS_PER_USER: String(MAX_SOCKETS) });
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  await server?.stop();
});

const db = () => server.node.ctx.db;

async function connect(token: string): Promise<LiveClient> {
  const c = await connectLive(server.url, token);
  clients.push(c);
  return c;
}

/** The close code and reason the server gave. */
const closeOf = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );

/** Sends every message in one write, so they reach the server together. */
function sendTogether(ws: WebSocket, messages: unknown[]): void {
  const socket = (ws as unknown as { _socket: Socket })._socket;
  socket.cork();
  for (const m of messages) ws.send(JSON.stringify(m));
  socket.uncork();
}

describe('WebSocket limits', () => {
  it("a 20,000-subscribe flood is cut off with 4008 and does not hold up another user's requests", async () => {
    const flooder = await signUp(server.url);
    const other = await signUp(server.url);
    for (let i = 0; i < 5; i++) await insertVideo(db(), flooder.user.id, { name: `f${i}.mp4` });
    const c = await connect(flooder.token);
    await c.waitFor((m) => m.type === 'synced');
    const closed = closeOf(c.ws);

    const flood = { type: 'subscribe', all: true };
    const sending = (async () => {
      for (let i = 0; i < 20_000; i += 500) {
        if (c.ws.readyState !== c.ws.OPEN) return i;
        sendTogether(c.ws, Array(500).fill(flood));
        await new Promise((r) => setImmediate(r));
      }
      return 20_000;
    })();
    // The other user's requests, sent while the flood is under way, all complete.
    const replies = await Promise.all(Array.from({ length: 20 }, () => other.api('/api/me')));
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));

    expect(await closed).toEqual({ code: 4008, reason: 'policy: too many messages' });
    await sending;
    // Far fewer snapshots than subscribes: one in flight at a time, then the socket was closed.
    const synced = c.messages.filter((m) => m.type === 'synced').length;
    expect(synced).toBeLessThan(100);
  }, 120_000);

  it('caps the sockets of one user: one more is closed with 4029, another user is unaffected', async () => {
    const alice = await signUp(server.url);
    const bob = await signUp(server.url);
    const open: LiveClient[] = [];
    for (let i = 0; i < MAX_SOCKETS; i++) {
      const c = await connect(alice.token);
      await c.waitFor((m) => m.type === 'synced');
      open.push(c);
    }
    const extra = await connect(alice.token);
    expect(await closeOf(extra.ws)).toEqual({
      code: 4029,
      reason: 'policy: too many live connections for this account',
    });
    expect(extra.messages).toEqual([]);

    const b = await connect(bob.token);
    await b.waitFor((m) => m.type === 'synced');

    // Closing one makes room for the next.
    const gone = closeOf(open[0]!.ws);
    open[0]!.close();
    await gone;
    let again = await connect(alice.token);
    // The server may not have processed the close yet: retry until the slot is free.
    for (let i = 0; i < 50 && !again.messages.some((m) => m.type === 'synced'); i++) {
      const outcome = await Promise.race([
        again.waitFor((m) => m.type === 'synced').then(() => 'synced' as const),
        closeOf(again.ws).then(() => 'closed' as const),
      ]);
      if (outcome === 'synced') break;
      again = await connect(alice.token);
    }
    expect(again.messages.some((m) => m.type === 'synced')).toBe(true);
  });

  it('coalesces subscribes: the client ends on the snapshot of its latest one', async () => {
    const alice = await signUp(server.url);
    const sessions: string[] = [];
    const videos: string[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await insertSession(db(), alice.user.id);
      sessions.push(s);
      videos.push(await insertVideo(db(), alice.user.id, { sessionId: s, name: `s${i}.mp4` }));
    }
    const c = await connect(alice.token);
    await c.waitFor((m) => m.type === 'synced');
    const from = c.messages.length;

    sendTogether(
      c.ws,
      sessions.map((sessionId) => ({ type: 'subscribe', sessionId })),
    );
    const last = sessions.at(-1)!;
    await c.waitFor((m) => m.type === 'synced' && (m.watch as { sessionId?: string }).sessionId === last, {
      from,
    });
    const after = c.messages.slice(from);
    const syncedWatches = after
      .filter((m) => m.type === 'synced')
      .map((m) => (m.watch as { sessionId: string }).sessionId);
    // The first runs at once; of the five sent while it ran, only the latest runs after it.
    expect(syncedWatches).toEqual([sessions[0], last]);
    // The last snapshot is the latest session's: its video, and nothing of the sessions between.
    const lastSynced = after.findLastIndex((m) => m.type === 'synced');
    const beforeLast = after.slice(0, lastSynced);
    const lastRows = beforeLast.slice(beforeLast.findLastIndex((m) => m.type === 'synced') + 1);
    expect(lastRows.map((m) => m.videoId)).toEqual([videos.at(-1)]);
    for (const v of videos.slice(1, -1)) expect(after.some((m) => m.videoId === v)).toBe(false);
  });

  it('refuses an oversized message by closing with 1009', async () => {
    const alice = await signUp(server.url);
    const c = await connect(alice.token);
    await c.waitFor((m) => m.type === 'synced');
    const closed = closeOf(c.ws);
    c.send({ type: 'subscribe', all: true, padding: 'x'.repeat(64 * 1024) });
    expect((await closed).code).toBe(1009);
  });
});
