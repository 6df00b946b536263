import { execFile } from 'node:child_process';
import { mkdtemp, open, readdir, readFile, rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enqueue, processJobKey } from '../../src/jobs/queue.ts';
import type { Checkpoint } from '../../src/processing/types.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeGood } from '../media/fixtures.ts';
import { analysisRow, uploadedVideo, waitForStatus } from '../processing/helpers.ts';
import {
  createSession,
  fakeMp4,
  headOffset,
  sha256,
  startTus,
  tusCreate,
  waitFor,
} from '../uploads/helpers.ts';

/**
 * A real full filesystem: the node's data dir (uploads and storage) is a 20 MiB tmpfs, filled
 * with a file the test writes. Writes refused for lack of room give STORAGE_FULL (507) with a
 * message, keep nothing half-written beyond an upload's resumable bytes, and everything works
 * again once space is freed.
 */
const run = promisify(execFile);
let mnt: string;
let server: TestServer;
let dir: string;

beforeAll(async () => {
  mnt = await mkdtemp(path.join(os.tmpdir(), 'clipdock-full-'));
  await run('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mnt]);
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-full-media-'));
  server = await startTestServer({
    CLIPDOCK_DATA_DIR: mnt,
    PROCESSING_MAX_ATTEMPTS: '2',
    FFMPEG_THREADS: '1',
  });
});
afterAll(async () => {
  await server?.stop();
  if (mnt) {
    await run('umount', [mnt]).catch(() => {});
    await rm(mnt, { recursive: true, force: true });
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

const freeBytes = async () => {
  const s = await statfs(mnt);
  return s.bavail * s.bsize;
};

/** Fills the filesystem until `leave` bytes are free (or less), with a file removed afterwards. */
async function fill(name: string, leave: number): Promise<string> {
  const file = path.join(mnt, name);
  const fh = await open(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    while ((await freeBytes()) > leave) {
      const n = Math.min(chunk.length, (await freeBytes()) - leave);
      await fh.write(chunk, 0, Math.max(n, 1));
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    await fh.close();
  }
  return file;
}

// A test that failed half-way must not leave the next one a full disk.
afterEach(async () => {
  for (const name of ['filler', 'filler2', 'filler3']) await rm(path.join(mnt, name), { force: true });
});

describe('a full disk', () => {
  it('refuses a PATCH with 507 STORAGE_FULL, keeps the bytes it stored, and the upload resumes once space is back', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const body = fakeMp4(8 * 1024 * 1024);
    const { files } = await createSession(user.api, [{ name: 'clip.mp4', size: body.length }]);
    const created = await tusCreate(files[0]!, user.token, { length: body.length });
    expect(created.status).toBe(201);
    const uploadUrl = new URL(created.headers.get('location')!, server.url).toString();
    const filler = await fill('filler', 3 * 1024 * 1024);

    const res = await fetch(uploadUrl, {
      method: 'PATCH',
      headers: {
        authorization: `Bearer ${user.token}`,
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(body),
    });
    expect(res.status).toBe(507);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const err = (await res.json()) as { error: { code: string; message: string } };
    expect(err.error.code).toBe('STORAGE_FULL');
    expect(err.error.message).toMatch(/storage is full/);

    // What was stored is a prefix of the body: the offset the client resumes from.
    const offset = await headOffset(uploadUrl, user.token);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(body.length);
    const partial = await readFile(path.join(mnt, 'uploads', files[0]!.videoId));
    expect(partial.length).toBe(offset);
    expect(sha256(partial)).toBe(sha256(body.subarray(0, offset)));
    // The video's progress says what was stored, not what was received.
    const db = server.node.ctx.db;
    const receivedBytes = async () =>
      Number(
        (
          await db
            .selectFrom('videos')
            .select('received_bytes')
            .where('id', '=', files[0]!.videoId)
            .executeTakeFirstOrThrow()
        ).received_bytes,
      );
    await waitFor(async () => (await receivedBytes()) === offset, 10_000).catch(() => {});
    expect(await receivedBytes()).toBe(offset);

    // Creating another upload on the full disk: 507 as well, never a 500.
    await fill('filler2', 0);
    const second = await createSession(user.api, [{ name: 'b.mp4', size: 1024 * 1024 }]);
    const refused = await tusCreate(second.files[0]!, user.token, { length: 1024 * 1024 });
    expect(refused.status).toBe(507);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('STORAGE_FULL');

    await rm(filler);
    await rm(path.join(mnt, 'filler2'));
    await startTus(body, { token: user.token, uploadUrl, retry: true }).done;
    const original = await user.api(`/api/videos/${files[0]!.videoId}/original`);
    expect(original.status).toBe(200);
    expect(sha256(Buffer.from(await original.arrayBuffer()))).toBe(sha256(body));
    const again = await tusCreate(second.files[0]!, user.token, { length: 1024 * 1024 });
    expect(again.status).toBe(201);
  });

  it('fails a video whose outputs do not fit with STORAGE_FULL, keeps no outputs, and a Retry starts a fresh attempt count', {
    timeout: 240_000,
  }, async () => {
    const user = await signUp(server.url);
    const file = await makeGood('h264_aac_mov', dir);
    const videoId = await uploadedVideo(server, user.user.id, file, { enqueue: false });
    const filler = await fill('filler3', 0);
    const db = server.node.ctx.db;
    const stored = () => readdir(path.join(mnt, 'storage', 'videos', videoId));
    const retry = async () => {
      const res = await user.api(`/api/videos/${videoId}/retry`, { method: 'POST' });
      expect(res.status, await res.clone().text()).toBe(202);
    };

    await enqueue(db, 'process_video', { videoId }, { jobKey: processJobKey(videoId) });
    // Three rounds on the full disk (the first, then two Retries): each ends as what it is.
    for (let round = 0; round < 3; round++) {
      if (round > 0) await retry();
      const v = await waitForStatus(db, videoId, ['failed', 'ready'], 120_000);
      expect(v.status).toBe('failed');
      expect(v.error_code, v.error_message ?? '').toBe('STORAGE_FULL');
      expect(v.error_message).toMatch(/storage was full .*\(2 attempts in the normalize step\)/);
      expect(v.error_message).not.toMatch(/stopped/);
      const a = (await analysisRow(db, videoId))!;
      // Each Retry counted afresh: two starts of the step, both ended here (no worker stopped).
      expect((a.checkpoint as unknown as Checkpoint).runs).toEqual(
        round === 0 ? { probe: 1, normalize: 2 } : { normalize: 2 },
      );
      expect((a.checkpoint as unknown as Checkpoint).ended).toEqual({ normalize: 2 });
      expect(a.outputs).toEqual({});
      expect((await stored()).filter((n) => !n.startsWith('original'))).toEqual([]);
      const list = (await (await user.api(`/api/videos/${videoId}`)).json()) as {
        error: { code: string; retryable: boolean };
      };
      expect(list.error).toMatchObject({ code: 'STORAGE_FULL', retryable: true });
    }

    await rm(filler);
    await retry();
    const v = await waitForStatus(db, videoId, ['failed', 'ready'], 120_000);
    expect(v.status, `${v.error_code}: ${v.error_message}`).toBe('ready');
    const a = (await analysisRow(db, videoId))!;
    expect((a.checkpoint as unknown as Checkpoint).runs).toMatchObject({ normalize: 1 });
  });
});
