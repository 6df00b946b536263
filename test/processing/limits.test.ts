import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueue, processJobKey } from '../../src/jobs/queue.ts';
import { keys } from '../../src/storage/object-store.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { BAD_FILES, makeGood } from '../media/fixtures.ts';
import { credits, uploadedVideo, waitForAnalysis, waitForStatus } from './helpers.ts';

const QUOTA = 50_000_000;
let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startTestServer({
    FFMPEG_THREADS: '1',
    PROCESSING_MAX_ATTEMPTS: '2',
    STARTING_CREDITS: '1000',
    CREDITS_PER_VIDEO: '10',
    MAX_RETRIES_PER_VIDEO: '2',
    MAX_RETRIES_PER_USER_PER_DAY: '3',
    STORAGE_QUOTA_BYTES: String(QUOTA),
  });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-limits-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const db = () => server.node.ctx.db;
type Api = Awaited<ReturnType<typeof signUp>>['api'];

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, ...body.error };
}

async function readyVideo(userId: string): Promise<string> {
  const videoId = await uploadedVideo(
    server,
    userId,
    await makeGood('no_audio', await mkdtemp(path.join(dir, 'g-'))),
  );
  expect((await waitForStatus(db(), videoId, ['ready', 'failed'])).status).toBe('ready');
  await waitForAnalysisDone(videoId);
  return videoId;
}

async function reprocess(api: Api, videoId: string): Promise<Response> {
  return api(`/api/videos/${videoId}/reprocess`, {
    method: 'POST',
    body: JSON.stringify({ steps: ['analyze'] }),
  });
}

describe('a permanently failed video', () => {
  it('says it cannot be retried, and a retry is refused with what to do instead', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const file = path.join(dir, BAD_FILES.truncated_mp4!.file);
    await BAD_FILES.truncated_mp4!.make(file, dir);
    const videoId = await uploadedVideo(server, user.user.id, file);
    expect((await waitForStatus(db(), videoId, ['ready', 'failed'])).error_code).toBe('TRUNCATED_MEDIA');
    const before = await credits(db(), user.user.id);

    const listed = (await (await user.api('/api/videos?status=failed')).json()) as {
      videos: Array<{ id: string; error: { code: string; retryable: boolean } }>;
    };
    expect(listed.videos.find((v) => v.id === videoId)?.error).toMatchObject({
      code: 'TRUNCATED_MEDIA',
      retryable: false,
    });
    const refused = await errorOf(await user.api(`/api/videos/${videoId}/retry`, { method: 'POST' }));
    expect(refused).toMatchObject({ status: 409, code: 'FAILURE_IS_PERMANENT' });
    expect(refused.message).toMatch(/Delete it, or upload a new export/);
    expect(refused.message).toContain('TRUNCATED_MEDIA');
    // Nothing was reserved or queued; the video is still failed, and Delete works.
    expect(await credits(db(), user.user.id)).toEqual(before);
    expect((await waitForStatus(db(), videoId, ['failed'])).error_code).toBe('TRUNCATED_MEDIA');
    expect((await user.api(`/api/videos/${videoId}`, { method: 'DELETE' })).status).toBeLessThan(300);
  });
});

describe('retries and re-analyses a user asks for', () => {
  it('are limited per video (MAX_RETRIES_PER_VIDEO), retries and re-analyses together', {
    timeout: 180_000,
  }, async () => {
    const user = await signUp(server.url);
    const good = await makeGood('no_audio', await mkdtemp(path.join(dir, 'r-')));
    // A transient failure: the original is missing from storage, then back.
    const videoId = await uploadedVideo(server, user.user.id, good, { enqueue: false });
    await server.node.ctx.store.delete(keys.original(videoId));
    await enqueue(db(), 'process_video', { videoId }, { jobKey: processJobKey(videoId) });
    expect((await waitForStatus(db(), videoId, ['failed', 'ready'])).error_code).toBe('PROCESSING_FAILED');
    await server.node.ctx.store.putFile(keys.original(videoId), good);

    expect((await user.api(`/api/videos/${videoId}/retry`, { method: 'POST' })).status).toBe(202);
    expect((await waitForStatus(db(), videoId, ['ready', 'failed'])).status).toBe('ready');
    await waitForAnalysisDone(videoId);
    expect((await reprocess(user.api, videoId)).status).toBe(202);
    await waitForAnalysisDone(videoId);
    const third = await errorOf(await reprocess(user.api, videoId));
    expect(third).toMatchObject({ status: 429, code: 'RETRY_LIMIT_REACHED' });
    expect(third.message).toMatch(/2 times/);
    expect((await waitForStatus(db(), videoId, ['ready'])).status).toBe('ready');
  });

  it('are limited per user over the last 24 hours (MAX_RETRIES_PER_USER_PER_DAY)', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const videoId = await readyVideo(user.user.id);
    // Earlier requests of this user: two within the last 24 hours, one older.
    await db()
      .insertInto('processing_requests')
      .values([
        { user_id: user.user.id, video_id: null, kind: 'retry', created_at: sql`now() - interval '3 hours'` },
        {
          user_id: user.user.id,
          video_id: null,
          kind: 'reprocess',
          created_at: sql`now() - interval '1 hour'`,
        },
        {
          user_id: user.user.id,
          video_id: null,
          kind: 'retry',
          created_at: sql`now() - interval '25 hours'`,
        },
      ])
      .execute();
    expect((await reprocess(user.api, videoId)).status).toBe(202);
    await waitForAnalysisDone(videoId);
    const refused = await errorOf(await reprocess(user.api, videoId));
    expect(refused).toMatchObject({ status: 429, code: 'DAILY_RETRY_LIMIT_REACHED' });
    expect(refused.message).toMatch(/You can ask again after \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    // Another user is not affected.
    const other = await signUp(server.url);
    const theirs = await readyVideo(other.user.id);
    expect((await reprocess(other.api, theirs)).status).toBe(202);
    await waitForAnalysisDone(theirs);
  });
});

describe('the storage quota', () => {
  it('counts converted outputs: in /api/me and when a new upload session is checked', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const videoId = await readyVideo(user.user.id);
    const stored = await server.node.ctx.store.list(keys.videoPrefix(videoId));
    const original = stored.find((o) => o.key === keys.original(videoId))!.size;
    const outputs = stored.filter((o) => o.key !== keys.original(videoId)).reduce((n, o) => n + o.size, 0);
    expect(outputs).toBeGreaterThan(0);

    const me = (await (await user.api('/api/me')).json()) as {
      storage: { usedBytes: number; quotaBytes: number };
    };
    expect(me.storage).toEqual({ usedBytes: original + outputs, quotaBytes: QUOTA });

    // A file that would fit next to the original alone does not fit next to its outputs too.
    const session = (size: number) =>
      user.api('/api/upload-sessions', {
        method: 'POST',
        body: JSON.stringify({ files: [{ name: 'next.mp4', size }] }),
      });
    const tooBig = await errorOf(await session(QUOTA - original));
    expect(tooBig).toMatchObject({ status: 413, code: 'STORAGE_QUOTA_EXCEEDED' });
    expect((await session(QUOTA - original - outputs)).status).toBe(201);
  });
});

/** A re-analysis is over when the video is ready again with its analysis completed. */
async function waitForAnalysisDone(videoId: string): Promise<void> {
  expect((await waitForAnalysis(db(), videoId)).enrichment_status).toBe('ready');
  expect((await waitForStatus(db(), videoId, ['ready'])).status).toBe('ready');
}
