import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { createSession, fakeMp4, startTus, waitFor } from './helpers.ts';

let server: TestServer;
beforeAll(async () => {
  // API only: a finished upload stays `uploaded`, where the test sees it.
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
});
afterAll(async () => {
  await server?.stop();
});

const video = (id: string) =>
  server.node.ctx.db.selectFrom('videos').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const terminate = (url: string, token: string) =>
  fetch(url, { method: 'DELETE', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` } });

describe('tus termination', () => {
  it('refuses to terminate a finished upload with 409 UPLOAD_ALREADY_FINISHED and keeps the video', async () => {
    const alice = await signUp(server.url);
    const body = fakeMp4(256 * 1024);
    const { files } = await createSession(alice.api, [{ name: 'kept.mp4', size: body.length }]);
    const run = startTus(body, { token: alice.token, file: files[0]! });
    await run.done;
    const url = run.upload.url!;
    expect((await video(files[0]!.videoId)).status).toBe('uploaded');

    const res = await terminate(url, alice.token);
    expect(res.status).toBe(409);
    const err = (await res.json()) as { error: { code: string; message: string } };
    expect(err.error.code).toBe('UPLOAD_ALREADY_FINISHED');
    expect(err.error.message).toMatch(/library/);
    expect((await video(files[0]!.videoId)).status).toBe('uploaded');
    const original = await alice.api(`/api/videos/${files[0]!.videoId}/original`);
    expect(original.status).toBe(200);
    expect(Buffer.from(await original.arrayBuffer()).length).toBe(body.length);
  });

  it('still terminates an unfinished upload, and a second DELETE says it is not awaiting upload', async () => {
    const alice = await signUp(server.url);
    const body = fakeMp4(3 * 1024 * 1024);
    const { files } = await createSession(alice.api, [{ name: 'gone.mp4', size: body.length }]);
    const run = startTus(body, { token: alice.token, file: files[0]!, chunkSize: 1024 * 1024 });
    await run.reached(1024 * 1024);
    await run.upload.abort();
    const url = run.upload.url!;
    expect((await terminate(url, alice.token)).status).toBe(204);
    await waitFor(async () => (await video(files[0]!.videoId)).status === 'canceled');
    const again = await terminate(url, alice.token);
    expect(again.status).not.toBe(204);
    expect(((await again.json()) as { error: { code: string } }).error.code).not.toBe(
      'UPLOAD_ALREADY_FINISHED',
    );
  });
});
