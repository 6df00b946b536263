import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { BAD_FILES } from '../media/fixtures.ts';
import { analysisRow, credits, reservations, uploadedVideo, waitForStatus } from './helpers.ts';

/** What ffmpeg/ffprobe stderr looks like: tool names, paths, URLs, demuxer tags, source lines. */
const STDERR_FRAGMENTS =
  /ffmpeg|ffprobe|https?:\/\/|\/tmp\/|\/videos\/|\boriginal\b|Invalid data found|moov atom|\[[a-z0-9_,]+ @ 0x[0-9a-f]+\]|\.c:\d+/i;

let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startTestServer({ STARTING_CREDITS: '100', CREDITS_PER_VIDEO: '10', FFMPEG_THREADS: '1' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-bad-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('files that are not usable videos fail at once, with a code per cause, and cost nothing', () => {
  it('gives each bad file its own code', () => {
    const codes = Object.values(BAD_FILES).map((b) => b.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  for (const [kind, bad] of Object.entries(BAD_FILES)) {
    it(`${kind} (${bad.file}) → ${bad.code}`, { timeout: 120_000 }, async () => {
      const user = await signUp(server.url);
      const file = path.join(await mkdtemp(path.join(dir, `${kind}-`)), bad.file);
      await bad.make(file, path.dirname(file));
      const videoId = await uploadedVideo(server, user.user.id, file);
      const v = await waitForStatus(server.node.ctx.db, videoId, ['ready', 'failed']);
      expect(v.status).toBe('failed');
      expect(v.error_code).toBe(bad.code);
      expect(v.error_message).toBeTruthy();
      // People see Clipdock's own text for the code; the tool's stderr stays in the log.
      expect(v.error_message).not.toMatch(STDERR_FRAGMENTS);
      expect(v.error_message).not.toContain(server.dataDir);
      // Permanent: no retry was scheduled.
      expect(v.retry_count).toBe(0);
      const a = await analysisRow(server.node.ctx.db, videoId);
      expect(a?.error_code).toBe(bad.code);
      expect(a?.retry_after).toBeNull();
      expect(await reservations(server.node.ctx.db, videoId)).toEqual([{ state: 'released', amount: 10 }]);
      expect(await credits(server.node.ctx.db, user.user.id)).toEqual({ balance: 100, reserved: 0 });

      const res = await user.api(`/api/videos/${videoId}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { status: string; error: { code: string; message: string } | null };
      expect(body.status).toBe('failed');
      expect(body.error?.code).toBe(bad.code);
      expect(body.error?.message).toBe(v.error_message);
      expect(a?.error_message).not.toMatch(STDERR_FRAGMENTS);
    });
  }
});
