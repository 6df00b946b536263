import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORK_DIR } from '../../src/processing/runner.ts';
import type { Checkpoint } from '../../src/processing/types.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeLong } from '../media/fixtures.ts';
import { analysisRow, uploadedVideo, waitForStatus } from '../processing/helpers.ts';
import { waitFor } from '../uploads/helpers.ts';

/**
 * A worker killed mid-transcode: another worker node, already running, resumes the video within
 * 30 s, on the default settings and with no sweep called by the test (the lease: run lock plus
 * heartbeat, checked by every worker's recovery loop).
 */
let server: TestServer;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-lease-'));
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A worker node as its own process; resolves once it runs. */
function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.resolve('src/main.ts')], {
    env: {
      ...process.env,
      ...server.env,
      CLIPDOCK_ROLE: 'worker',
      WORKER_CONCURRENCY: '1',
      FFMPEG_THREADS: '1',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Clipdock worker is running')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}):\n${out.slice(-2000)}`)));
  });
}

describe('a killed worker', () => {
  it('has its video resumed by another worker within 30 s', { timeout: 240_000 }, async () => {
    const db = server.node.ctx.db;
    const user = await signUp(server.url);
    const videoId = await uploadedVideo(server, user.user.id, await makeLong(dir, 40), { enqueue: false });
    const first = await startWorker();
    const { enqueue, processJobKey } = await import('../../src/jobs/queue.ts');
    await enqueue(db, 'process_video', { videoId }, { jobKey: processJobKey(videoId) });
    for (;;) {
      const a = await analysisRow(db, videoId);
      if (a?.processing_step === 'normalize' && a.step_progress > 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // The second worker is idle and waiting when the first dies.
    await startWorker();
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const killedAt = Date.now();

    // Resumed: the normalize step started a second time (by the other worker).
    let resumedAfterMs: number | undefined;
    while (Date.now() - killedAt < 30_000) {
      const a = await analysisRow(db, videoId);
      if (((a?.checkpoint as unknown as Checkpoint | undefined)?.runs.normalize ?? 0) >= 2) {
        resumedAfterMs = Date.now() - killedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(resumedAfterMs, 'not resumed within 30 s of the kill').toBeDefined();
    const v = await waitForStatus(db, videoId, ['ready', 'failed'], 180_000);
    expect(v.status).toBe('ready');
    console.log(`resumed ${resumedAfterMs} ms after the kill`);
    // The killed worker's temp dir does not wait for the step timeout: the lease check removes it.
    await waitFor(
      async () => !(await readdir(WORK_DIR).catch(() => [])).some((n) => n.startsWith(videoId)),
      60_000,
    );
  });
});
