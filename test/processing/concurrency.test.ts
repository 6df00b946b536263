import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCleanup } from '../../src/cleanup/cleanup.ts';
import { processVideo } from '../../src/processing/runner.ts';
import type { Checkpoint } from '../../src/processing/types.ts';
import { keys } from '../../src/storage/object-store.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeGood, makeLong } from '../media/fixtures.ts';
import { analysisRow, reservations, uploadedVideo, videoRow } from './helpers.ts';

let server: TestServer;
let dir: string;
beforeAll(async () => {
  // No queue worker in this node: the test runs the pipeline itself, twice at once.
  server = await startTestServer({ CLIPDOCK_ROLE: 'api', FFMPEG_THREADS: '1' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-concurrency-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the runner, called directly', () => {
  it('process it once; the other backs off; credits are captured once', { timeout: 120_000 }, async () => {
    const user = await signUp(server.url);
    const videoId = await uploadedVideo(server, user.user.id, await makeGood('hevc', dir), {
      enqueue: false,
    });
    const ctx = server.node.ctx;
    const outcomes = await Promise.all([
      processVideo(ctx, videoId, { signal: AbortSignal.timeout(100_000) }),
      processVideo(ctx, videoId, { signal: AbortSignal.timeout(100_000) }),
    ]);
    expect(outcomes.filter((o) => o === 'ready')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'busy' || o === 'not_processable')).toHaveLength(1);
    expect((await videoRow(ctx.db, videoId)).status).toBe('ready');
    const cp = (await analysisRow(ctx.db, videoId))!.checkpoint as unknown as Checkpoint;
    expect(cp.runs).toEqual({ probe: 1, normalize: 1, poster: 1, analyze: 1, transcribe: 1 });
    expect((await analysisRow(ctx.db, videoId))!.enrichment_status).toBe('ready');
    expect(await reservations(ctx.db, videoId)).toEqual([{ state: 'captured', amount: 10 }]);

    // A ready video is not processed again by a stray job.
    expect(await processVideo(ctx, videoId, { signal: AbortSignal.timeout(10_000) })).toBe('not_processable');
  });

  it('stops between steps when the video is canceled meanwhile, and charges nothing', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const videoId = await uploadedVideo(server, user.user.id, await makeGood('prores', dir), {
      enqueue: false,
    });
    const ctx = server.node.ctx;
    const run = processVideo(ctx, videoId, { signal: AbortSignal.timeout(100_000) });
    // Cancel as soon as the run has claimed the video (as the cancel path would, releasing credits).
    for (;;) {
      if ((await videoRow(ctx.db, videoId)).status === 'processing') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const { releaseReservation } = await import('../../src/credits/ledger.ts');
    await ctx.db.transaction().execute(async (tx) => {
      await tx.updateTable('videos').set({ status: 'canceled' }).where('id', '=', videoId).execute();
      await releaseReservation(tx, videoId);
    });
    expect(await run).toBe('not_processable');
    expect((await videoRow(ctx.db, videoId)).status).toBe('canceled');
    expect(await reservations(ctx.db, videoId)).toEqual([{ state: 'released', amount: 10 }]);
  });
  it('leaves no stored output behind for a video deleted while a step runs', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const videoId = await uploadedVideo(server, user.user.id, await makeGood('prores', dir), {
      enqueue: false,
    });
    const ctx = server.node.ctx;
    const run = processVideo(ctx, videoId, { signal: AbortSignal.timeout(100_000) });
    for (;;) {
      const a = await analysisRow(ctx.db, videoId);
      if (a?.processing_step === 'normalize') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await user.api(`/api/videos/${videoId}`, { method: 'DELETE' })).status).toBeLessThan(300);
    // The delete's own cleanup runs while the step is still writing its output.
    await runCleanup(ctx);
    expect(await run).toBe('not_processable');
    await runCleanup(ctx);
    expect(await ctx.store.list(keys.videoPrefix(videoId))).toEqual([]);
  });

  it('fails a step that outlives PROCESSING_STEP_TIMEOUT_SECONDS at once, and releases credits', {
    timeout: 120_000,
  }, async () => {
    const user = await signUp(server.url);
    const videoId = await uploadedVideo(server, user.user.id, await makeLong(dir, 30), { enqueue: false });
    const base = server.node.ctx;
    const ctx = {
      ...base,
      config: { ...base.config, worker: { ...base.config.worker, stepTimeoutSeconds: 1 } },
    };
    expect(await processVideo(ctx, videoId, { signal: AbortSignal.timeout(100_000) })).toBe('failed');
    const v = await videoRow(base.db, videoId);
    expect(v.error_code).toBe('PROCESSING_TIMEOUT');
    expect(v.error_message).toMatch(/PROCESSING_STEP_TIMEOUT_SECONDS/);
    expect(await reservations(base.db, videoId)).toEqual([{ state: 'released', amount: 10 }]);
  });
});
