import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeLong } from '../media/fixtures.ts';
import { headOffset, waitFor } from '../uploads/helpers.ts';
import { type CliJson, createApiToken, fileSha, flakyProxy, originalSha, runCli } from './helpers.ts';

let server: TestServer;
let dir: string;
beforeAll(async () => {
  // API only: these tests are about the bytes, not the processing after them.
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-cli-resume-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const video = (id: string) =>
  server.node.ctx.db.selectFrom('videos').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

describe('clipdock upload: interruptions', () => {
  it('stops on SIGINT keeping the bytes sent, and the next run resumes from the server offset', async () => {
    const user = await signUp(server.url);
    const token = await createApiToken(user.api);
    const file = await makeLong(dir, 8);
    const { size } = await stat(file);
    const state = path.join(dir, 'state.json');
    const env = { CLIPDOCK_URL: server.url, CLIPDOCK_TOKEN: token };

    // Throttled to about 10 s for the whole file, so it is surely mid-upload at the signal.
    const first = runCli(
      ['upload', '--limit-rate', String(Math.ceil(size / 10)), '--state', state, file],
      env,
    );
    await first.stderrLine(/^long\.avi: [1-9]\d*%/);
    first.child.kill('SIGINT');
    expect(await first.exit, first.stderr()).toBe(130);
    expect(first.stderr()).toMatch(/Run the same command again to resume/);
    expect(first.stdout()).toMatch(/1 interrupted \(run again to resume\)/);

    // The state file names the upload; the server holds part of it.
    const saved = JSON.parse(await readFile(state, 'utf8')) as {
      uploads: Record<string, { videoId: string; uploadUrl?: string; finished?: boolean }>;
    };
    const records = Object.values(saved.uploads);
    expect(records).toHaveLength(1);
    const rec = records[0]!;
    expect(rec.uploadUrl).toBe(`${server.url}/api/uploads/${rec.videoId}`);
    expect(rec.finished).toBeUndefined();
    // A HEAD may meet the lock of the aborted PATCH for a moment (423): ask again until it answers.
    const { offset } = await waitFor(() =>
      headOffset(rec.uploadUrl!, token).then(
        (o) => ({ offset: o }),
        () => undefined,
      ),
    );
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(size);
    expect((await video(rec.videoId)).status).toBe('uploading');

    const second = runCli(['upload', '--json', '--state', state, file], env);
    expect(await second.exit, second.stderr()).toBe(0);
    const result = JSON.parse(second.stdout()) as CliJson;
    expect(result.files).toHaveLength(1);
    const f = result.files[0]!;
    expect(f).toMatchObject({ videoId: rec.videoId, upload: 'uploaded', error: null });
    // It continued where the server stopped: no byte before the offset was sent again.
    expect(f.resumedFrom).toBeGreaterThanOrEqual(offset);
    expect(second.stderr()).toMatch(/↻ long\.avi: resuming at /);

    const v = await video(rec.videoId);
    expect(v.status).toBe('uploaded');
    expect(Number(v.received_bytes)).toBe(size);
    expect(await originalSha(server.url, token, rec.videoId)).toBe(await fileSha(file));
    // One video for the file, not one per run.
    const listed = (await (await user.api('/api/videos')).json()) as { videos: unknown[] };
    expect(listed.videos).toHaveLength(1);

    // A third run has nothing to send.
    const third = runCli(['upload', '--json', '--state', state, file], env);
    expect(await third.exit, third.stderr()).toBe(0);
    expect((JSON.parse(third.stdout()) as CliJson).files[0]).toMatchObject({
      videoId: rec.videoId,
      upload: 'already_uploaded',
    });
  }, 120_000);

  it('rides out a dropped connection within one run: it resumes from the server offset', async () => {
    const user = await signUp(server.url);
    const token = await createApiToken(user.api);
    const sub = await mkdtemp(path.join(dir, 'flaky-'));
    const file = await makeLong(sub, 6);
    const { size } = await stat(file);
    const proxy = await flakyProxy(server.url, Math.floor(size / 2));
    try {
      const cli = runCli(['upload', '--json', '--state', path.join(sub, 'state.json'), file], {
        CLIPDOCK_URL: proxy.url,
        CLIPDOCK_TOKEN: token,
      });
      expect(await cli.exit, cli.stderr()).toBe(0);
      expect(proxy.wasCut()).toBe(true);
      const f = (JSON.parse(cli.stdout()) as CliJson).files[0]!;
      expect(f.upload).toBe('uploaded');
      expect(f.resumedFrom).toBeGreaterThan(0);
      expect(f.resumedFrom).toBeLessThan(size);
      expect(cli.stderr()).toMatch(/↻ long\.avi: resuming at /);
      expect(await originalSha(server.url, token, f.videoId!)).toBe(await fileSha(file));
      expect(Number((await video(f.videoId!)).received_bytes)).toBe(size);
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('resumes after a hard kill even when the state file lost the upload URL', async () => {
    const user = await signUp(server.url);
    const token = await createApiToken(user.api);
    const sub = await mkdtemp(path.join(dir, 'killed-'));
    const file = await makeLong(sub, 6);
    const { size } = await stat(file);
    const state = path.join(sub, 'state.json');
    const env = { CLIPDOCK_URL: server.url, CLIPDOCK_TOKEN: token };

    const first = runCli(
      ['upload', '--limit-rate', String(Math.ceil(size / 10)), '--state', state, file],
      env,
    );
    await first.stderrLine(/^long\.avi: [1-9]\d*%/);
    first.child.kill('SIGKILL');
    await first.exit;
    // As if the process died between the tus creation and saving its URL.
    const saved = JSON.parse(await readFile(state, 'utf8')) as {
      uploads: Record<string, { uploadUrl?: string }>;
    };
    for (const rec of Object.values(saved.uploads)) delete rec.uploadUrl;
    await writeFile(state, JSON.stringify(saved));

    const second = runCli(['upload', '--json', '--state', state, file], env);
    expect(await second.exit, second.stderr()).toBe(0);
    const f = (JSON.parse(second.stdout()) as CliJson).files[0]!;
    expect(f).toMatchObject({ upload: 'uploaded', status: 'uploaded', error: null });
    expect(f.resumedFrom).toBeGreaterThan(0);
    expect(await originalSha(server.url, token, f.videoId!)).toBe(await fileSha(file));
    const listed = (await (await user.api('/api/videos')).json()) as { videos: unknown[] };
    expect(listed.videos).toHaveLength(1);
  }, 120_000);
});
