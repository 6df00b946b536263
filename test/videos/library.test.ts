import { existsSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { defaultProjectId, insertVideo, transition } from '../live/helpers.ts';
import { createSession, fakeMp4, startTus } from '../uploads/helpers.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ STARTING_CREDITS: '1000', CREDITS_PER_VIDEO: '10' });
});
afterAll(async () => {
  await server?.stop();
});

const db = () => server.node.ctx.db;
type Video = { id: string; name: string; status: string; progress: number; step: string | null };
type Page = { videos: Video[]; nextCursor: string | null };

async function allPages(api: (p: string) => Promise<Response>, query: string, between?: () => Promise<void>) {
  const ids: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const res = await api(`/api/videos?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as Page;
    ids.push(...page.videos.map((v) => v.id));
    cursor = page.nextCursor;
    pages++;
    await between?.();
  } while (cursor && pages < 1000);
  return ids;
}

describe('library listing', () => {
  it('pages each video exactly once while others are inserted meanwhile', async () => {
    const u = await signUp(server.url);
    const projectId = await defaultProjectId(db(), u.user.id);
    // 60 in one statement share one created_at: the id breaks the tie.
    await db()
      .insertInto('videos')
      .values(
        Array.from({ length: 60 }, (_, i) => ({
          user_id: u.user.id,
          project_id: projectId,
          name: `bulk-${i}.mp4`,
          declared_size: 1,
        })),
      )
      .execute();
    for (let i = 0; i < 40; i++) await insertVideo(db(), u.user.id, { name: `single-${i}.mp4` });
    const before = (
      await db().selectFrom('videos').select('id').where('user_id', '=', u.user.id).execute()
    ).map((r) => r.id);

    let n = 0;
    const ids = await allPages(u.api, 'limit=7', async () => {
      await insertVideo(db(), u.user.id, { name: `concurrent-${n++}.mp4` });
    });
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of before) expect(ids.filter((x) => x === id)).toHaveLength(1);
  });

  it('filters by status, project and name (wildcards taken literally), newest first', async () => {
    const u = await signUp(server.url);
    const a = await insertVideo(db(), u.user.id, { name: '100%_done.mp4' });
    const b = await insertVideo(db(), u.user.id, { name: '100xxdone.mp4' });
    const c = await insertVideo(db(), u.user.id, { name: 'Holiday.MOV' });
    await transition(db(), b, { status: 'uploading', uploadProgress: 3 });
    await transition(db(), c, { status: 'ready' });

    const list = async (q: string) =>
      ((await (await u.api(`/api/videos?${q}`)).json()) as Page).videos.map((v) => v.id);
    expect(await list('')).toEqual([c, b, a]);
    expect(await list(`q=${encodeURIComponent('%_d')}`)).toEqual([a]);
    expect(await list('q=holiday')).toEqual([c]);
    expect(await list('status=uploading,ready')).toEqual([c, b]);
    expect(await list('status=pending_upload')).toEqual([a]);
    const projectId = await defaultProjectId(db(), u.user.id);
    expect(await list(`projectId=${projectId}&limit=2`)).toEqual([c, b]);
    const other = await signUp(server.url);
    expect(await list(`projectId=${await defaultProjectId(db(), other.user.id)}`)).toEqual([]);

    const page = (await (await u.api('/api/videos?limit=1')).json()) as Page & {
      videos: Array<Record<string, unknown>>;
    };
    expect(page.videos[0]).toMatchObject({
      id: c,
      name: 'Holiday.MOV',
      status: 'ready',
      progress: 100,
      step: null,
      error: null,
      projectId,
      sessionId: null,
      size: 1000,
      mimeType: 'video/mp4',
      durationSeconds: null,
      posterUrl: null,
    });
    expect(page.nextCursor).toEqual(expect.any(String));
  });

  it('refuses bad input with 400s, never a 500', async () => {
    const u = await signUp(server.url);
    for (const q of ['status=nope', 'limit=0', 'limit=201', 'cursor=garbage', 'projectId=x']) {
      const res = await u.api(`/api/videos?${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toMatch(
        /VALIDATION_FAILED|INVALID_CURSOR/,
      );
    }
  });

  it('needs a token', async () => {
    expect((await fetch(`${server.url}/api/videos`)).status).toBe(401);
    expect((await fetch(`${server.url}/api/videos/status?sessionId=${crypto.randomUUID()}`)).status).toBe(
      401,
    );
  });
});

describe('batch status', () => {
  it('answers by ids and by session, only for the owner, with step and progress', async () => {
    const u = await signUp(server.url);
    const session = await createSession(u.api, [
      { name: 'a.mp4', size: 100 },
      { name: 'b.mp4', size: 200 },
    ]);
    const [a, b] = session.files.map((f) => f.videoId) as [string, string];
    await transition(db(), a, { status: 'uploading', uploadProgress: 42 });
    await transition(db(), b, { status: 'processing', step: 'normalize', progress: 61 });
    const outsider = await insertVideo(db(), (await signUp(server.url)).user.id);

    const byIds = await u.api(`/api/videos/status?videoIds=${a},${b},${outsider}`);
    expect(byIds.status).toBe(200);
    const body = (await byIds.json()) as { videos: Array<Record<string, unknown>> };
    expect(body.videos).toEqual([
      {
        id: a,
        name: 'a.mp4',
        status: 'uploading',
        step: null,
        progress: 42,
        error: null,
        // Enrichment (after `ready`) has no state before the pipeline claims the video.
        analysis: null,
        etaSeconds: null,
        updatedAt: expect.any(String),
      },
      {
        id: b,
        name: 'b.mp4',
        status: 'processing',
        step: 'normalize',
        progress: 61,
        error: null,
        analysis: { status: 'pending', step: null, progress: 0, error: null },
        etaSeconds: null,
        updatedAt: expect.any(String),
      },
    ]);

    const bySession = (await (await u.api(`/api/videos/status?sessionId=${session.sessionId}`)).json()) as {
      videos: Array<{ id: string }>;
      counts: Record<string, number>;
    };
    expect(bySession.videos.map((v) => v.id)).toEqual([a, b]);
    expect(bySession.counts).toEqual({ uploading: 1, processing: 1 });

    const other = await signUp(server.url);
    const theirs = (await (await other.api(`/api/videos/status?sessionId=${session.sessionId}`)).json()) as {
      videos: unknown[];
    };
    expect(theirs.videos).toEqual([]);
    expect((await u.api('/api/videos/status')).status).toBe(400);
    expect((await u.api('/api/videos/status?videoIds=nope')).status).toBe(400);
  });
});

describe('video detail, rename, delete', () => {
  it('shows one video with analysis and outputs, and 404s for anyone else', async () => {
    const u = await signUp(server.url);
    const id = await insertVideo(db(), u.user.id, { name: 'detail.mp4' });
    const res = await u.api(`/api/videos/${id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id, name: 'detail.mp4', analysis: null, outputs: null });

    await transition(db(), id, { status: 'processing', step: 'probe', progress: 3 });
    const processing = (await (await u.api(`/api/videos/${id}`)).json()) as {
      analysis: { step: string; progress: number };
    };
    expect(processing.analysis).toMatchObject({ step: 'probe', progress: 3 });

    const other = await signUp(server.url);
    const denied = await other.api(`/api/videos/${id}`);
    expect(denied.status).toBe(404);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe('VIDEO_NOT_FOUND');
    expect((await other.api(`/api/videos/${id}`, { method: 'DELETE' })).status).toBe(404);
    expect(
      (await other.api(`/api/videos/${id}`, { method: 'PATCH', body: JSON.stringify({ name: 'mine' }) }))
        .status,
    ).toBe(404);
    expect((await u.api(`/api/videos/${crypto.randomUUID()}`)).status).toBe(404);
  });

  it('renames', async () => {
    const u = await signUp(server.url);
    const id = await insertVideo(db(), u.user.id, { name: 'old.mp4' });
    const res = await u.api(`/api/videos/${id}`, {
      method: 'PATCH',
      body: JSON.stringify({ name: '  New name  ' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id, name: 'New name' });
    expect((await (await u.api(`/api/videos/${id}`)).json()) as { name: string }).toMatchObject({
      name: 'New name',
    });
    const empty = await u.api(`/api/videos/${id}`, {
      method: 'PATCH',
      body: JSON.stringify({ name: '   ' }),
    });
    expect(empty.status).toBe(400);
  });

  it('deletes the row, releases its credits and removes every stored object', async () => {
    const u = await signUp(server.url);
    const session = await createSession(u.api, [{ name: 'gone.mp4', size: 100 }]);
    const id = session.files[0]!.videoId;
    const meBefore = (await (await u.api('/api/me')).json()) as {
      credits: { balance: number; reserved: number };
    };
    expect(meBefore.credits.reserved).toBe(10);

    const { store } = server.node.ctx;
    await store.put(`videos/${id}/original`, Buffer.from('original bytes'));
    await store.put(`videos/${id}/video.mp4`, Buffer.from('converted'));
    await store.put(`videos/${id}/poster.jpg`, Buffer.from('poster'));
    const neighbour = await insertVideo(db(), u.user.id);
    await store.put(`videos/${neighbour}/original`, Buffer.from('keep me'));

    expect((await u.api(`/api/videos/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await u.api(`/api/videos/${id}`)).status).toBe(404);
    const me = (await (await u.api('/api/me')).json()) as { credits: { balance: number; reserved: number } };
    expect(me.credits).toEqual({ balance: meBefore.credits.balance + 10, reserved: 0 });

    // The worker carries out the recorded deletes (and marks them done when its batch commits).
    const pending = async () =>
      (
        await db()
          .selectFrom('cleanup_jobs')
          .select(sql<number>`count(*)::int`.as('n'))
          .where('done_at', 'is', null)
          .where('target', 'like', `%${id}%`)
          .executeTakeFirstOrThrow()
      ).n;
    await until(async () => (await pending()) === 0);
    expect(await store.list(`videos/${id}/`)).toEqual([]);
    expect(await store.head(`videos/${neighbour}/original`)).toBeDefined();
    expect((await u.api(`/api/videos/${id}`, { method: 'DELETE' })).status).toBe(404);
  });
  it('deletes a video in the middle of its upload, partial bytes included', async () => {
    const u = await signUp(server.url);
    const body = fakeMp4(512 * 1024);
    const session = await createSession(u.api, [
      { name: 'partial.mp4', size: body.length, type: 'video/mp4' },
    ]);
    const file = session.files[0]!;
    const run = startTus(body, { token: u.token, file, chunkSize: 64 * 1024 });
    await run.reached(64 * 1024);
    await run.upload.abort();
    const partial = path.join(server.node.ctx.config.uploadsDir, file.videoId);
    expect(existsSync(partial)).toBe(true);

    expect((await u.api(`/api/videos/${file.videoId}`, { method: 'DELETE' })).status).toBe(204);
    await until(async () => !existsSync(partial) && !existsSync(`${partial}.json`));
  });
});

describe('API description', () => {
  it('serves the OpenAPI description and its browsable docs without a token', async () => {
    const spec = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(spec.paths)).toEqual(
      expect.arrayContaining(['/api/videos', '/api/videos/status', '/api/videos/{id}', '/api/ws']),
    );
    expect(Object.keys(spec.paths['/api/videos/{id}'] ?? {})).toEqual(
      expect.arrayContaining(['get', 'patch', 'delete']),
    );
    const docs = await fetch(`${server.url}/api/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toMatch(/swagger/i);
  });
});

async function until(fn: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
