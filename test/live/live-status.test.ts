import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { connectLive, insertSession, insertVideo, startNode, transition, videoMessages } from './helpers.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

const db = () => server.node.ctx.db;

describe('live status over WebSocket', () => {
  it('pushes every status of a video, in order, with progress, seq increasing', async () => {
    const alice = await signUp(server.url);
    const videoId = await insertVideo(db(), alice.user.id);
    const client = await connectLive(server.url, alice.token);
    await client.waitFor((m) => m.type === 'synced');
    expect(videoMessages(client, videoId).at(-1)).toMatchObject({ status: 'pending_upload', progress: 0 });

    await transition(db(), videoId, { status: 'uploading', uploadProgress: 10 });
    await client.waitFor((m) => m.videoId === videoId && m.status === 'uploading');
    await transition(db(), videoId, { status: 'uploading', uploadProgress: 60 });
    await client.waitFor((m) => m.videoId === videoId && m.progress === 60);
    await transition(db(), videoId, { status: 'uploaded' });
    await transition(db(), videoId, { status: 'processing', step: 'probe', progress: 2 });
    await client.waitFor((m) => m.videoId === videoId && m.step === 'probe');
    await transition(db(), videoId, { status: 'processing', step: 'normalize', progress: 30 });
    await client.waitFor((m) => m.videoId === videoId && m.step === 'normalize' && m.progress === 30);
    await transition(db(), videoId, { status: 'ready', progress: 100 });
    await client.waitFor((m) => m.videoId === videoId && m.status === 'ready');

    const statuses = videoMessages(client, videoId).map((m) => m.status);
    const distinct = statuses.filter((s, i) => s !== statuses[i - 1]);
    expect(distinct).toEqual(['pending_upload', 'uploading', 'uploaded', 'processing', 'ready']);
    const seqs = client.messages.map((m) => m.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(videoMessages(client, videoId).at(-1)).toMatchObject({ progress: 100, error: null });
    client.close();
  });

  it('never tells user B about user A’s videos', async () => {
    const a = await signUp(server.url);
    const b = await signUp(server.url);
    const clientB = await connectLive(server.url, b.token);
    await clientB.waitFor((m) => m.type === 'synced');
    const videoA = await insertVideo(db(), a.user.id);
    const videoB = await insertVideo(db(), b.user.id);
    await transition(db(), videoA, { status: 'uploading', uploadProgress: 5 });
    await transition(db(), videoB, { status: 'uploading', uploadProgress: 5 });
    await clientB.waitFor((m) => m.videoId === videoB);
    // Commit order is delivery order: A's change was committed first, so it had its chance.
    expect(clientB.messages.some((m) => m.videoId === videoA)).toBe(false);
    // Subscribing to A's session or project from B's socket is refused, as over HTTP (404).
    const sessionA = await insertSession(db(), a.user.id);
    const videoA2 = await insertVideo(db(), a.user.id, { sessionId: sessionA });
    const from = clientB.messages.length;
    clientB.send({ type: 'subscribe', sessionId: sessionA });
    const refused = await clientB.waitFor((m) => m.type === 'error', { from });
    expect(refused).toMatchObject({ error: { code: 'SESSION_NOT_FOUND' } });
    const projectA = await db()
      .selectFrom('projects')
      .select('id')
      .where('user_id', '=', a.user.id)
      .executeTakeFirstOrThrow();
    const from2 = clientB.messages.length;
    clientB.send({ type: 'subscribe', projectId: projectA.id });
    const refused2 = await clientB.waitFor((m) => m.type === 'error', { from: from2 });
    expect(refused2).toMatchObject({ error: { code: 'PROJECT_NOT_FOUND' } });
    await transition(db(), videoA2, { status: 'uploading', uploadProgress: 9 });
    await transition(db(), videoB, { status: 'uploading', uploadProgress: 9 });
    clientB.send({ type: 'subscribe', all: true });
    await clientB.waitFor((m) => m.videoId === videoB && m.progress === 9, { from });
    expect(clientB.messages.some((m) => m.videoId === videoA || m.videoId === videoA2)).toBe(false);
    clientB.close();
  });

  it('watches one upload session: its current state first, then only its changes', async () => {
    const u = await signUp(server.url);
    const session = await insertSession(db(), u.user.id, 2);
    const inSession = await insertVideo(db(), u.user.id, { sessionId: session, name: 'in.mp4' });
    const other = await insertVideo(db(), u.user.id, { name: 'other.mp4' });
    const client = await connectLive(server.url, u.token);
    await client.waitFor((m) => m.type === 'synced');
    const from = client.messages.length;
    client.send({ type: 'subscribe', sessionId: session });
    const synced = await client.waitFor((m) => m.type === 'synced', { from });
    expect(synced.count).toBe(1);
    const snapshot = client.messages.slice(from).filter((m) => m.type === 'video.status');
    expect(snapshot.map((m) => m.videoId)).toEqual([inSession]);
    expect(snapshot[0]).toMatchObject({ name: 'in.mp4', sessionId: session, status: 'pending_upload' });
    await transition(db(), other, { status: 'uploading', uploadProgress: 50 });
    await transition(db(), inSession, { status: 'uploading', uploadProgress: 50 });
    await client.waitFor((m) => m.videoId === inSession && m.status === 'uploading', { from });
    expect(client.messages.slice(from).some((m) => m.videoId === other)).toBe(false);
    client.close();
  });

  it('gives a reconnecting client the current state', async () => {
    const u = await signUp(server.url);
    const videoId = await insertVideo(db(), u.user.id);
    const first = await connectLive(server.url, u.token);
    await first.waitFor((m) => m.type === 'synced');
    first.close();
    await first.closed;
    await transition(db(), videoId, { status: 'uploading', uploadProgress: 40 });
    await transition(db(), videoId, { status: 'uploaded' });
    await transition(db(), videoId, { status: 'processing', step: 'thumbnails', progress: 70 });
    const again = await connectLive(server.url, u.token);
    await again.waitFor((m) => m.type === 'synced');
    expect(videoMessages(again, videoId)).toEqual([
      expect.objectContaining({ status: 'processing', step: 'thumbnails', progress: 70, seq: 1 }),
    ]);
    again.close();
  });

  it('delivers renames and deletions', async () => {
    const u = await signUp(server.url);
    const videoId = await insertVideo(db(), u.user.id, { name: 'before.mp4' });
    const client = await connectLive(server.url, u.token);
    await client.waitFor((m) => m.type === 'synced');
    const renamed = await u.api(`/api/videos/${videoId}`, {
      method: 'PATCH',
      body: JSON.stringify({ name: 'after.mp4' }),
    });
    expect(renamed.status).toBe(200);
    await client.waitFor((m) => m.videoId === videoId && m.name === 'after.mp4');
    expect((await u.api(`/api/videos/${videoId}`, { method: 'DELETE' })).status).toBe(204);
    await client.waitFor((m) => m.videoId === videoId && m.status === 'deleted');
    client.close();
  });

  it('refuses a connection without a valid token before upgrading', async () => {
    await expect(connectLive(server.url, '')).rejects.toThrow(/401/);
    await expect(connectLive(server.url, 'cdk_forged')).rejects.toThrow(/401/);
    const u = await signUp(server.url);
    const plain = await u.api('/api/ws');
    expect(plain.status).toBe(426);
    expect(((await plain.json()) as { error: { code: string } }).error.code).toBe('UPGRADE_REQUIRED');
  });

  it('answers a bad client message with an error and keeps the connection', async () => {
    const u = await signUp(server.url);
    const client = await connectLive(server.url, u.token);
    await client.waitFor((m) => m.type === 'synced');
    client.send({ type: 'subscribe', sessionId: 'not-a-uuid' });
    await client.waitFor((m) => m.type === 'error');
    client.send({ type: 'ping' });
    await client.waitFor((m) => m.type === 'pong');
    client.close();
  });

  it('survives the loss of its listener connection and resynchronises', async () => {
    const u = await signUp(server.url);
    const kept = await insertVideo(db(), u.user.id);
    const doomed = await insertVideo(db(), u.user.id);
    const client = await connectLive(server.url, u.token);
    await client.waitFor((m) => m.type === 'synced');
    const bus = server.node.live!.bus;
    const pid = bus.listenerPid;
    expect(pid).toBeTypeOf('number');

    const admin = new pg.Client({ connectionString: server.databaseUrl });
    await admin.connect();
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      // Changes made around the loss: whether they arrive as events or through the resync,
      // the client must end on them.
      await transition(db(), kept, { status: 'uploading', uploadProgress: 77 });
      await db().deleteFrom('videos').where('id', '=', doomed).execute();
      await client.waitFor((m) => m.type === 'synced' && m.reason === 'resync');
      await client.waitFor((m) => m.videoId === kept && m.progress === 77);
      await client.waitFor((m) => m.videoId === doomed && m.status === 'deleted');
      expect(bus.listenerPid).not.toBe(pid);

      // And it listens again: a later change arrives as an event.
      await transition(db(), kept, { status: 'uploaded' });
      await client.waitFor((m) => m.videoId === kept && m.status === 'uploaded');
    } finally {
      await admin.end();
      client.close();
    }
  });

  it('throttles a burst of progress but ends on its latest value and keeps status order', async () => {
    const u = await signUp(server.url);
    const videoId = await insertVideo(db(), u.user.id);
    const client = await connectLive(server.url, u.token);
    await client.waitFor((m) => m.type === 'synced');
    await transition(db(), videoId, { status: 'uploading', uploadProgress: 0 });
    for (let p = 1; p <= 40; p++) await transition(db(), videoId, { status: 'uploading', uploadProgress: p });
    await transition(db(), videoId, { status: 'uploaded' });
    await client.waitFor((m) => m.videoId === videoId && m.status === 'uploaded');
    const msgs = videoMessages(client, videoId);
    const progress = msgs.filter((m) => m.status === 'uploading').map((m) => m.progress as number);
    expect(progress).toEqual([...progress].sort((x, y) => x - y));
    expect(progress.length).toBeLessThanOrEqual(41);
    expect(msgs.at(-1)?.status).toBe('uploaded');
    client.close();
  });
});

describe('several nodes', () => {
  it('a client on one API node sees changes made through another', async () => {
    const nodeB = await startNode({ ...server.env, CLIPDOCK_ROLE: 'api' });
    try {
      const u = await signUp(server.url);
      const videoId = await insertVideo(db(), u.user.id, { name: 'x.mp4' });
      const client = await connectLive(nodeB.url, u.token);
      await client.waitFor((m) => m.type === 'synced');
      const res = await u.api(`/api/videos/${videoId}`, {
        method: 'PATCH',
        body: JSON.stringify({ name: 'renamed-on-A.mp4' }),
      });
      expect(res.status).toBe(200);
      await client.waitFor((m) => m.videoId === videoId && m.name === 'renamed-on-A.mp4');
      client.close();
    } finally {
      await nodeB.stop();
    }
  });

  it('drops a socket that stops answering pings', async () => {
    const quick = await startNode({ ...server.env, CLIPDOCK_ROLE: 'api', LIVE_PING_INTERVAL_SECONDS: '1' });
    try {
      const u = await signUp(server.url);
      const silent = await connectLive(quick.url, u.token, { autoPong: false });
      const polite = await connectLive(quick.url, u.token);
      await silent.waitFor((m) => m.type === 'synced');
      const { code } = await silent.closed;
      expect(code).toBe(1006);
      expect(polite.ws.readyState).toBe(polite.ws.OPEN);
      polite.close();
    } finally {
      await quick.stop();
    }
  });
});
