import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/errors.ts';
import { enqueue, processJobKey } from '../../src/jobs/queue.ts';
import type { Checkpoint } from '../../src/processing/types.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { bins, makeGood } from '../media/fixtures.ts';
import { analysisRow, reservations, uploadedVideo, waitForStatus } from './helpers.ts';

/**
 * A real crashing media tool: FFPROBE_PATH points at a shell script that execs the real ffprobe,
 * except on the stored original of a video the test marked, where the process kills itself with
 * SIGSEGV (so the worker sees a process really killed by a fault signal). `<id>.always` crashes
 * every time; `<id>.once` crashes the first time only.
 */
let server: TestServer;
let dir: string;
let marks: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-crash-tool-'));
  marks = path.join(dir, 'marks');
  const script = path.join(dir, 'ffprobe');
  await writeFile(
    script,
    `#!/bin/sh
for a in "$@"; do
  id=$(printf '%s' "$a" | sed -n 's#.*/videos/\\([^/]*\\)/original.*#\\1#p')
  if [ -n "$id" ]; then
    if [ -e "${marks}-$id.always" ]; then kill -SEGV $$; fi
    if [ -e "${marks}-$id.once" ]; then rm -f "${marks}-$id.once"; kill -SEGV $$; fi
  fi
done
exec "${bins.ffprobe}" "$@"
`,
  );
  await chmod(script, 0o755);
  // ffmpeg fails the conversion of a marked video (`<id>.stderr`) the way a real failure looks
  // in its stderr: demuxer tags, the input's path, a presigned URL.
  const ffmpegScript = path.join(dir, 'ffmpeg');
  await writeFile(
    ffmpegScript,
    `#!/bin/sh
id=""
for a in "$@"; do
  found=$(printf '%s' "$a" | sed -n 's#.*/videos/\\([^/]*\\)/original.*#\\1#p')
  if [ -n "$found" ]; then id="$found"; fi
done
for a in "$@"; do
  case "$a" in
    */video.mp4)
      if [ -n "$id" ] && [ -e "${marks}-$id.stderr" ]; then
        echo "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c0ffee00] moov atom not found" >&2
        echo "https://bucket.s3.example/videos/$id/original?X-Amz-Signature=abc: Invalid data found when processing input" >&2
        echo "$a: Conversion failed! (ffmpeg)" >&2
        exit 1
      fi;;
  esac
done
exec "${bins.ffmpeg}" "$@"
`,
  );
  await chmod(ffmpegScript, 0o755);
  server = await startTestServer({
    FFPROBE_PATH: script,
    FFMPEG_PATH: ffmpegScript,
    FFMPEG_THREADS: '1',
    PROCESSING_MAX_ATTEMPTS: '5',
  });
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const db = () => server.node.ctx.db;

async function markedVideo(userId: string, mark: 'always' | 'once' | 'stderr'): Promise<string> {
  const videoId = await uploadedVideo(
    server,
    userId,
    await makeGood('no_audio', await mkdtemp(path.join(dir, 'v-'))),
    {
      enqueue: false,
    },
  );
  await writeFile(`${marks}-${videoId}.${mark}`, '');
  await enqueue(db(), 'process_video', { videoId }, { jobKey: processJobKey(videoId) });
  return videoId;
}

describe('a media tool that crashes on the input', () => {
  it('fails the video with MEDIA_TOOL_CRASHED after the second crash, not after five attempts', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const videoId = await markedVideo(user.user.id, 'always');
    const v = await waitForStatus(db(), videoId, ['ready', 'failed']);
    expect(v.status).toBe('failed');
    expect(v.error_code).toBe('MEDIA_TOOL_CRASHED');
    expect(v.error_message).toBe(ERRORS.MEDIA_TOOL_CRASHED[1]);
    expect(v.retry_count).toBe(1);
    const a = (await analysisRow(db(), videoId))!;
    expect(a.attempts).toBe(2);
    expect(a.tool_crashes).toBe(2);
    expect(await reservations(db(), videoId)).toEqual([{ state: 'released', amount: 10 }]);

    // The API says it cannot be retried, and a retry is refused with what to do instead.
    const shown = (await (await user.api(`/api/videos/${videoId}`)).json()) as {
      error: { code: string; message: string; retryable: boolean };
    };
    expect(shown.error).toEqual({
      code: 'MEDIA_TOOL_CRASHED',
      message: ERRORS.MEDIA_TOOL_CRASHED[1],
      retryable: false,
    });
    const retry = await user.api(`/api/videos/${videoId}/retry`, { method: 'POST' });
    expect(retry.status).toBe(409);
    const body = (await retry.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('FAILURE_IS_PERMANENT');
    expect(body.error.message).toMatch(/Delete it, or upload a new export/);
  });

  it('takes one crash for the machine: the next attempt converts the video', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const videoId = await markedVideo(user.user.id, 'once');
    const v = await waitForStatus(db(), videoId, ['ready', 'failed']);
    expect(v.status).toBe('ready');
    const a = (await analysisRow(db(), videoId))!;
    // The crash cost one attempt; from `ready` on, enrichment counts attempts of its own.
    expect((a.checkpoint as unknown as Checkpoint).runs.probe).toBe(2);
    expect(a.attempts).toBe(0);
    expect(a.tool_crashes).toBe(1);
    expect(await reservations(db(), videoId)).toEqual([{ state: 'captured', amount: 10 }]);
  });

  it('never shows a tool stderr: a conversion that keeps failing gets a fixed text', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const videoId = await markedVideo(user.user.id, 'stderr');
    const v = await waitForStatus(db(), videoId, ['ready', 'failed']);
    expect(v.status).toBe('failed');
    expect(v.error_code).toBe('PROCESSING_FAILED');
    expect(v.error_message).toBe(
      'Processing failed 5 times in the normalize step. Retry later; the original is kept.',
    );
    const a = (await analysisRow(db(), videoId))!;
    expect(a.tool_crashes).toBe(0);
    const shown = (await (await user.api(`/api/videos/${videoId}`)).json()) as {
      error: { message: string; retryable: boolean };
      analysis: { error: { message: string } | null };
    };
    expect(shown.error).toMatchObject({ message: v.error_message, retryable: true });
    for (const text of [v.error_message!, a.error_message!, JSON.stringify(shown)]) {
      expect(text).not.toMatch(/ffmpeg|moov atom|Invalid data|https?:\/\/|X-Amz|\/tmp\/|@ 0x/);
    }
  });
});
