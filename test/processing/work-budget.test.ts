import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/processing/types.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { ffmpeg, ffprobe } from '../media/fixtures.ts';
import { analysisRow, reservations, uploadedVideo, waitForStatus } from './helpers.ts';

/**
 * A work bomb made cheaply: one black 7680×4320 H.264 frame at 30 fps in Matroska (about 100 KB),
 * whose Segment Info Duration (EBML id 0x4489, an 8-byte float in milliseconds) is rewritten to
 * six hours. ffprobe then reports 8K at 30 fps for 6 h: 2.1e13 pixel-frames, twelve times the
 * default budget, while duration (6 h) and size (8192) each sit at their limits.
 */
async function makeWorkBomb(dir: string): Promise<string> {
  const real = path.join(dir, 'one-frame-8k.mkv');
  await ffmpeg([
    '-f',
    'lavfi',
    '-i',
    'color=black:s=7680x4320:r=30',
    '-frames:v',
    '1',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    real,
  ]);
  const bytes = await readFile(real);
  const at = bytes.indexOf(Buffer.from([0x44, 0x89, 0x88]));
  if (at < 0) throw new Error('no 8-byte Duration element in the Matroska header');
  bytes.writeDoubleBE(6 * 3600 * 1000, at + 3);
  const out = path.join(dir, 'eight-k-six-hours.mkv');
  await writeFile(out, bytes);
  return out;
}

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startTestServer({ FFMPEG_THREADS: '1' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-budget-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a budget for work', () => {
  it('refuses an 8K × 6 h file at probe with WORK_BUDGET_EXCEEDED; it never reaches normalize', {
    timeout: 120_000,
  }, async () => {
    const bomb = await makeWorkBomb(dir);
    const probed = await ffprobe(bomb);
    expect(Number(probed.format.duration)).toBe(21600);
    expect(probed.streams[0]).toMatchObject({ width: 7680, height: 4320 });

    const user = await signUp(server.url);
    const videoId = await uploadedVideo(server, user.user.id, bomb);
    const v = await waitForStatus(server.node.ctx.db, videoId, ['ready', 'failed']);
    expect(v.status).toBe('failed');
    expect(v.error_code).toBe('WORK_BUDGET_EXCEEDED');
    expect(v.error_message).toContain('7680×4320 at 30 fps for 6 h 0 min');
    expect(v.error_message).toContain('takes up to 30 min');
    expect(v.retry_count).toBe(0);
    const a = (await analysisRow(server.node.ctx.db, videoId))!;
    const cp = a.checkpoint as unknown as Checkpoint;
    expect(cp.runs).toEqual({ probe: 1 });
    expect(cp.done).toEqual({});
    expect(a.attempts).toBe(1);
    expect(await reservations(server.node.ctx.db, videoId)).toEqual([{ state: 'released', amount: 10 }]);

    const shown = (await (await user.api(`/api/videos/${videoId}`)).json()) as {
      error: { code: string; retryable: boolean };
    };
    expect(shown.error).toMatchObject({ code: 'WORK_BUDGET_EXCEEDED', retryable: false });
    const retry = await user.api(`/api/videos/${videoId}/retry`, { method: 'POST' });
    expect(retry.status).toBe(409);
    expect(((await retry.json()) as { error: { code: string } }).error.code).toBe('FAILURE_IS_PERMANENT');
  });
});
