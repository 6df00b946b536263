import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoverStalledVideos } from '../../src/processing/recovery.ts';
import type { Checkpoint } from '../../src/processing/types.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeLong } from '../media/fixtures.ts';
import {
  analysisRow,
  credits,
  reservations,
  uploadedVideo,
  waitForAnalysis,
  waitForStatus,
} from './helpers.ts';

/**
 * A worker process killed with SIGKILL in the middle of a transcode: another worker resumes the
 * video from its last checkpoint, finished steps do not run again, and credits are captured once.
 */
let server: TestServer;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // This node serves the API only; workers run as separate processes on the same database and data dir.
  server = await startTestServer({ CLIPDOCK_ROLE: 'api', PROCESSING_STALE_SECONDS: '4' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-crash-'));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function startWorker(): ChildProcess {
  const child = spawn(process.execPath, [path.resolve('src/main.ts')], {
    env: {
      ...process.env,
      ...server.env,
      CLIPDOCK_ROLE: 'worker',
      WORKER_CONCURRENCY: '1',
      FFMPEG_THREADS: '1',
      PROCESSING_STALE_SECONDS: '4',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  return child;
}

/** ffmpeg processes whose command line mentions the video (its original lives under its id). */
async function ffmpegsFor(videoId: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ps', ['-eo', 'pid,args']);
  return stdout.split('\n').filter((l) => l.includes('ffmpeg') && l.includes(videoId));
}

describe('a worker killed mid-transcode', () => {
  it('is recovered by another worker; finished steps are not redone; credits captured once', {
    timeout: 180_000,
  }, async () => {
    const db = server.node.ctx.db;
    const user = await signUp(server.url);
    const before = await credits(db, user.user.id);
    const videoId = await uploadedVideo(server, user.user.id, await makeLong(dir, 40));

    const first = startWorker();
    // Wait until the transcode is under way, then kill the worker outright.
    for (;;) {
      const a = await analysisRow(db, videoId);
      if (a?.processing_step === 'normalize' && a.step_progress > 5 && a.step_progress < 80) break;
      expect(
        a?.processing_step === 'normalize' && a.step_progress >= 80,
        'transcode finished before the kill',
      ).toBe(false);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await ffmpegsFor(videoId)).length).toBeGreaterThan(0);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    // The worker's ffmpeg does not outlive it (the kernel kills it with the worker: pdeathsig).
    for (let i = 0; i < 100 && (await ffmpegsFor(videoId)).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await ffmpegsFor(videoId)).toEqual([]);
    expect((await analysisRow(db, videoId))?.processing_step).toBe('normalize');

    startWorker();
    // What the per-minute cron does: once the heartbeat is stale and nobody holds the run lock,
    // unlock the dead worker's job so the live worker takes it.
    for (;;) {
      const r = await recoverStalledVideos(server.node.ctx);
      if (r.unlocked.includes(videoId) || r.requeued.includes(videoId)) break;
      const v = await db
        .selectFrom('videos')
        .select('status')
        .where('id', '=', videoId)
        .executeTakeFirstOrThrow();
      if (v.status !== 'processing') break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const v = await waitForStatus(db, videoId, ['ready', 'failed'], 150_000);
    const atReady = (await analysisRow(db, videoId))!;
    expect(v.status, `${atReady.error_code}: ${atReady.error_message}`).toBe('ready');
    const a = await waitForAnalysis(db, videoId);
    expect(a.enrichment_status).toBe('ready');
    expect((a.checkpoint as unknown as Checkpoint).runs).toEqual({
      probe: 1,
      normalize: 2,
      poster: 1,
      analyze: 1,
      transcribe: 1,
    });
    expect(await reservations(db, videoId)).toEqual([{ state: 'captured', amount: 10 }]);
    expect(await credits(db, user.user.id)).toEqual({
      balance: before.balance - 10,
      reserved: before.reserved,
    });
    const entries = await db
      .selectFrom('credit_entries')
      .select('kind')
      .where('user_id', '=', user.user.id)
      .where('kind', '=', 'capture')
      .execute();
    expect(entries).toHaveLength(1);
  });
});
