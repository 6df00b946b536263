import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STEP_NAMES } from '../../src/processing/types.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeGood } from '../media/fixtures.ts';
import { createSession, startTus } from '../uploads/helpers.ts';
import { connectLive, type LiveClient, type Msg, startNode, videoMessages } from './helpers.ts';

/**
 * The real producers end to end: an upload session, a tus upload with tus-js-client (paused half
 * way and resumed, so upload progress is visible), and the worker's processing pipeline — and a
 * WebSocket client that only listens, never polls.
 */
let server: TestServer;
let dir: string;
let clip: Buffer;
beforeAll(async () => {
  server = await startTestServer();
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-live-'));
  clip = await readFile(await makeGood('h264_aac_mov', dir));
});
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function uploadAndWatch(
  uploadVia: string,
  client: LiveClient,
  user: Awaited<ReturnType<typeof signUp>>,
) {
  const api = (p: string, init?: RequestInit) =>
    fetch(`${uploadVia}${p}`, {
      ...init,
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    });
  const session = await createSession(api, [
    { name: 'phone.mov', size: clip.length, type: 'video/quicktime' },
  ]);
  const file = session.files[0]!;
  const from = client.messages.length;
  client.send({ type: 'subscribe', sessionId: session.sessionId });
  await client.waitFor((m) => m.type === 'synced', { from });

  const chunk = Math.max(16 * 1024, Math.floor(clip.length / 8));
  const first = startTus(clip, { token: user.token, file, chunkSize: chunk });
  await first.reached(chunk * 2);
  await first.upload.abort();
  // Upload progress under way reaches the client while the upload is paused.
  const mid = await client.waitFor(
    (m) => m.videoId === file.videoId && m.status === 'uploading' && (m.progress ?? 0) > 0,
    { from },
  );
  expect(mid.progress).toBeLessThan(100);
  const resumeUrl = first.upload.url;
  expect(resumeUrl).toBeTruthy();
  const second = startTus(clip, { token: user.token, uploadUrl: resumeUrl!, chunkSize: chunk, retry: true });
  await second.done;

  await client.waitFor((m) => m.videoId === file.videoId && m.status === 'ready', {
    from,
    timeoutMs: 120_000,
  });
  return file.videoId;
}

function checkLifecycle(messages: Msg[]) {
  const statuses = messages.map((m) => m.status);
  const distinct = statuses.filter((s, i) => s !== statuses[i - 1]);
  expect(distinct).toEqual(['pending_upload', 'uploading', 'uploaded', 'processing', 'ready']);
  const steps = messages.filter((m) => m.status === 'processing' && m.step !== null).map((m) => m.step);
  const distinctSteps = steps.filter((s, i) => s !== steps[i - 1]);
  // Steps arrive in pipeline order, each once.
  const order = distinctSteps.map((s) => STEP_NAMES.indexOf(s as (typeof STEP_NAMES)[number]));
  expect(order.every((x) => x >= 0)).toBe(true);
  expect(order).toEqual([...order].sort((a, b) => a - b));
  expect(new Set(distinctSteps).size).toBe(distinctSteps.length);
  expect(distinctSteps).toContain('probe');
  expect(distinctSteps).toContain('normalize');
  const processing = messages.filter((m) => m.status === 'processing').map((m) => m.progress as number);
  expect(processing).toEqual([...processing].sort((a, b) => a - b));
  expect(messages.at(-1)).toMatchObject({ status: 'ready', progress: 100, error: null });
}

describe('live status of a real upload and its processing', () => {
  it('shows every status from pending_upload to ready, in order, with progress', async () => {
    const u = await signUp(server.url);
    const client = await connectLive(server.url, u.token);
    await client.waitFor((m) => m.type === 'synced');
    const videoId = await uploadAndWatch(server.url, client, u);
    checkLifecycle(videoMessages(client, videoId));
    const seqs = client.messages.map((m) => m.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    client.close();

    // The detail the library shows for it agrees, with analysis and outputs.
    const detail = (await (await u.api(`/api/videos/${videoId}`)).json()) as {
      durationSeconds: number;
      analysis: unknown;
      posterUrl: string;
      outputs: { video: string; poster: string };
    };
    expect(detail).toMatchObject({ id: videoId, status: 'ready', progress: 100, step: null, error: null });
    expect(detail.durationSeconds).toBeGreaterThan(1);
    expect(detail.analysis).toMatchObject({ width: 320, height: 240, videoCodec: 'h264' });
    expect(detail.outputs.video).toEqual(expect.any(String));
    expect(detail.posterUrl).toBe(detail.outputs.poster);
    const poster = await u.api(detail.posterUrl);
    expect(poster.status).toBe(200);
  });

  it('the same with the client on another API node than the upload', async () => {
    const nodeB = await startNode({ ...server.env, CLIPDOCK_ROLE: 'api' });
    try {
      const u = await signUp(server.url);
      const client = await connectLive(nodeB.url, u.token);
      await client.waitFor((m) => m.type === 'synced');
      const videoId = await uploadAndWatch(server.url, client, u);
      checkLifecycle(videoMessages(client, videoId));
      client.close();
    } finally {
      await nodeB.stop();
    }
  });
});
