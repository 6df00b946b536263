import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { BAD_FILES, makeGood } from '../media/fixtures.ts';
import { type CliJson, createApiToken, fileSha, originalSha, runCli } from './helpers.ts';

let server: TestServer;
let dir: string;
beforeAll(async () => {
  // A whole node (API and worker): --wait needs the videos processed to `ready`.
  server = await startTestServer();
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-cli-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('clipdock upload --wait --json', () => {
  it('uploads three files in parallel, waits until each is ready and prints JSON', async () => {
    const user = await signUp(server.url);
    const token = await createApiToken(user.api);
    const files = [
      await makeGood('h264_aac_mov', dir),
      await makeGood('vp9_opus', dir),
      await makeGood('mjpeg_avi', dir),
    ];
    const state = path.join(dir, 'state.json');
    // Throttled so that the three uploads certainly overlap: each takes over a second.
    const cli = runCli(
      ['upload', '--parallel', '3', '--limit-rate', '64k', '--wait', '--json', '--state', state, ...files],
      { CLIPDOCK_URL: server.url, CLIPDOCK_TOKEN: token },
    );
    const code = await cli.exit;
    expect(code, cli.stderr()).toBe(0);

    const result = JSON.parse(cli.stdout()) as CliJson;
    expect(result.ok).toBe(true);
    expect(result.files).toHaveLength(3);
    for (const f of result.files) {
      expect(f).toMatchObject({ upload: 'uploaded', status: 'ready', resumedFrom: 0, error: null });
      expect(await originalSha(server.url, token, f.videoId!)).toBe(await fileSha(f.path));
    }
    expect(result.files.map((f) => f.path).sort()).toEqual([...files].sort());

    // All three were sending before the first one finished.
    const lines = cli.stderr().split('\n');
    const firstDone = lines.findIndex((l) => / uploaded \(video /.test(l));
    for (const f of files) {
      const started = lines.findIndex((l) => l.startsWith(`${path.basename(f)}: `));
      expect(started, cli.stderr()).toBeGreaterThanOrEqual(0);
      expect(started, cli.stderr()).toBeLessThan(firstDone);
    }
    expect(lines.filter((l) => l.includes(': ready'))).toHaveLength(3);

    const listed = (await (await user.api('/api/videos')).json()) as { videos: Array<{ status: string }> };
    expect(listed.videos.map((v) => v.status)).toEqual(['ready', 'ready', 'ready']);
  }, 180_000);

  it('reports a video that fails processing with its code, and exits 1', async () => {
    const user = await signUp(server.url);
    const token = await createApiToken(user.api);
    // An MP4 with sound only: a container the upload accepts, a video the pipeline refuses.
    const song = path.join(dir, 'song.mp4');
    await BAD_FILES.audio_only!.make(song, dir);
    const cli = runCli(['upload', '--wait', '--json', '--state', path.join(dir, 'state-2.json'), song], {
      CLIPDOCK_URL: server.url,
      CLIPDOCK_TOKEN: token,
    });
    expect(await cli.exit, cli.stderr()).toBe(1);
    const result = JSON.parse(cli.stdout()) as CliJson;
    expect(result.ok).toBe(false);
    expect(result.files[0]).toMatchObject({
      upload: 'uploaded',
      status: 'failed',
      error: { code: 'NO_VIDEO_STREAM' },
    });
    expect(cli.stderr()).toMatch(/✗ song\.mp4: failed: /);
  }, 120_000);
});
