import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CleanupDetail } from '../../src/cleanup/report.ts';
import type { CleanupRun } from '../../src/cleanup/runs.ts';
import { RUN_RETENTION_DAYS, runScheduledSweep } from '../../src/cleanup/sweep.ts';
import { keys } from '../../src/storage/object-store.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeGood } from '../media/fixtures.ts';
import { credits, reservations, uploadedVideo, videoRow } from '../processing/helpers.ts';
import { createSession, fakeMp4, tusCreate } from '../uploads/helpers.ts';
import { parsePrometheus, sampleValue } from './prometheus.ts';

/**
 * The cleanup sweep against broken states built for real: rows in PostgreSQL, files in the
 * store and in the tus upload dir, a held run lock. An API-only node, so no worker repairs
 * anything behind the test's back: only the sweep under test does.
 */
let server: TestServer;
let dir: string;
let admin: Awaited<ReturnType<typeof signUp>>;
let user: Awaited<ReturnType<typeof signUp>>;
let clip: string;
beforeAll(async () => {
  server = await startTestServer({
    CLIPDOCK_ROLE: 'api',
    PROCESSING_STALE_SECONDS: '3',
    STARTING_CREDITS: '1000',
  });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-cleanup-'));
  // ADMIN_EMAILS is unset: the first account administers the server.
  admin = await signUp(server.url);
  user = await signUp(server.url);
  clip = await makeGood('h264_aac_mov', dir);
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const db = () => server.node.ctx.db;
const storeFile = (key: string) => path.join(server.dataDir, 'storage', key);
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );
const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000);

async function cleanup(dryRun: boolean): Promise<CleanupRun> {
  const res = await admin.api('/api/admin/cleanup', { method: 'POST', body: JSON.stringify({ dryRun }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { run: CleanupRun }).run;
}

const itemFor = (run: CleanupRun, check: string, target: string): CleanupDetail | undefined =>
  run.details.find((d) => d.check === check && d.target === target);

/** An upload session with one file and `sent` of its `size` bytes written over tus. */
async function partialUpload(size: number, sent: number): Promise<string> {
  const s = await createSession(user.api, [{ name: 'clip.mp4', size }]);
  const f = s.files[0]!;
  const res = await tusCreate(f, user.token, { length: size, body: fakeMp4(sent) });
  expect(res.status).toBe(201);
  return f.videoId;
}

/** Everything a dry run must leave exactly as it was. */
async function snapshot() {
  const [videos, analysis, reservationRows, accounts, cleanupJobs, jobs] = await Promise.all([
    db().selectFrom('videos').selectAll().orderBy('id').execute(),
    db().selectFrom('video_analysis').selectAll().orderBy('id').execute(),
    db().selectFrom('credit_reservations').selectAll().orderBy('id').execute(),
    db().selectFrom('credit_accounts').selectAll().orderBy('user_id').execute(),
    db().selectFrom('cleanup_jobs').selectAll().orderBy('id').execute(),
    sql`SELECT id, key, attempts, locked_at, run_at FROM graphile_worker.jobs ORDER BY id`.execute(db()),
  ]);
  const stored = (await server.node.ctx.store.list('videos/')).map((o) => `${o.key}:${o.size}`);
  const partials = (await readdir(path.join(server.dataDir, 'uploads')).catch(() => [])).sort();
  return { videos, analysis, reservationRows, accounts, cleanupJobs, jobs: jobs.rows, stored, partials };
}

async function processJobExists(videoId: string): Promise<boolean> {
  const r = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE key = ${`process_video:${videoId}`}`.execute(
    db(),
  );
  return r.rows[0]!.n > 0;
}

describe('the cleanup sweep repairs what is broken, and shows its work', () => {
  const ids = {} as Record<
    | 'expired'
    | 'live'
    | 'stalled'
    | 'running'
    | 'unqueued'
    | 'missing'
    | 'orphan'
    | 'freshOrphan'
    | 'failedDelete'
    | 'partial',
    string
  >;
  let lockClient: pg.Client;
  let dryRun: CleanupRun;

  it('builds each broken state for real', { timeout: 60_000 }, async () => {
    // An upload idle past UPLOAD_EXPIRY_HOURS (24 h): partial bytes on disk, credits reserved.
    ids.expired = await partialUpload(4000, 1500);
    await db()
      .updateTable('videos')
      .set({ upload_started_at: hoursAgo(25), created_at: hoursAgo(25) })
      .where('id', '=', ids.expired)
      .execute();
    // A live upload: started just now, bytes still coming.
    ids.live = await partialUpload(4000, 1500);
    for (const id of [ids.expired, ids.live]) expect((await videoRow(db(), id)).status).toBe('uploading');

    // Processing whose worker died: no heartbeat for an hour, no job, nobody holds its run lock.
    ids.stalled = await uploadedVideo(server, user.user.id, clip, { enqueue: false });
    // The same, but a runner holds its lock (a long step with a late heartbeat): running.
    ids.running = await uploadedVideo(server, user.user.id, clip, { enqueue: false });
    for (const id of [ids.stalled, ids.running]) {
      await db().updateTable('videos').set({ status: 'processing' }).where('id', '=', id).execute();
      await db()
        .insertInto('video_analysis')
        .values({
          video_id: id,
          processing_step: 'normalize',
          checkpoint: JSON.stringify({ done: {}, runs: { probe: 1 } }),
          last_progress_update: hoursAgo(1),
          started_at: hoursAgo(1),
        })
        .execute();
    }
    lockClient = new pg.Client({ connectionString: server.databaseUrl });
    await lockClient.connect();
    await lockClient.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', [
      'clipdock.process_video',
      ids.running,
    ]);

    // Uploaded an hour ago, but its processing job was lost.
    ids.unqueued = await uploadedVideo(server, user.user.id, clip, { enqueue: false });
    await db()
      .updateTable('videos')
      .set({ updated_at: hoursAgo(1) })
      .where('id', '=', ids.unqueued)
      .execute();

    // A ready video whose original was deleted outside Clipdock.
    ids.missing = await uploadedVideo(server, user.user.id, clip, { enqueue: false });
    await db()
      .updateTable('videos')
      .set({ status: 'ready', updated_at: hoursAgo(1) })
      .where('id', '=', ids.missing)
      .execute();
    await rm(storeFile(keys.original(ids.missing)));

    // Objects of no video: two hours old (orphaned), and just written (within the grace period).
    ids.orphan = randomUUID();
    ids.freshOrphan = randomUUID();
    for (const id of [ids.orphan, ids.freshOrphan]) {
      await server.node.ctx.store.put(keys.original(id), Buffer.alloc(2048, 1));
      await server.node.ctx.store.put(keys.output(id, 'poster.jpg'), Buffer.alloc(512, 2));
    }
    for (const name of ['original', 'poster.jpg']) {
      await utimes(storeFile(keys.output(ids.orphan, name)), hoursAgo(2), hoursAgo(2));
    }

    // A partial tus upload (data file and sidecar) of no video, untouched for two hours; and the
    // live upload's file made just as old: it still belongs to an upload in progress.
    ids.partial = randomUUID();
    const uploads = path.join(server.dataDir, 'uploads');
    await writeFile(path.join(uploads, ids.partial), fakeMp4(700));
    await writeFile(path.join(uploads, `${ids.partial}.json`), JSON.stringify({ id: ids.partial }));
    for (const f of [ids.partial, `${ids.partial}.json`, ids.live]) {
      await utimes(path.join(uploads, f), hoursAgo(2), hoursAgo(2));
    }

    // A storage delete that failed three times while storage was down.
    ids.failedDelete = randomUUID();
    await server.node.ctx.store.put(keys.output(ids.failedDelete, 'video.mp4'), Buffer.alloc(100, 3));
    await db()
      .insertInto('cleanup_jobs')
      .values({
        kind: 'delete_prefix',
        target: keys.videoPrefix(ids.failedDelete),
        reason: 'video deleted',
        attempts: 3,
        last_error: 'connect ECONNREFUSED (storage was down)',
      })
      .execute();
  });

  it('a dry run changes nothing and reports what it would do', { timeout: 60_000 }, async () => {
    const before = await snapshot();
    dryRun = await cleanup(true);
    expect(await snapshot()).toEqual(before);

    expect(dryRun).toMatchObject({
      type: 'dry_run',
      trigger: 'manual',
      dryRun: true,
      repaired: 0,
      errors: 0,
    });
    expect(dryRun.finishedAt).not.toBeNull();
    expect(itemFor(dryRun, 'expired_uploads', ids.expired)).toMatchObject({
      outcome: 'would_repair',
      bytes: 1500,
      credits: 10,
    });
    expect(itemFor(dryRun, 'stalled_processing', ids.stalled)?.outcome).toBe('would_repair');
    expect(itemFor(dryRun, 'never_queued', ids.unqueued)?.outcome).toBe('would_repair');
    expect(itemFor(dryRun, 'missing_originals', ids.missing)?.outcome).toBe('would_repair');
    expect(itemFor(dryRun, 'orphaned_objects', keys.videoPrefix(ids.orphan))).toMatchObject({
      outcome: 'would_repair',
      bytes: 2048 + 512,
    });
    expect(
      itemFor(dryRun, 'failed_deletes', `delete_prefix ${keys.videoPrefix(ids.failedDelete)}`)?.outcome,
    ).toBe('would_repair');
    expect(itemFor(dryRun, 'orphaned_partials', ids.partial)?.outcome).toBe('would_repair');
    // Never listed: the live upload, the running job, the fresh orphan.
    const targets = dryRun.details.map((d) => d.target);
    expect(targets).not.toContain(ids.live);
    expect(targets).not.toContain(ids.running);
    expect(targets).not.toContain(keys.videoPrefix(ids.freshOrphan));
    expect(dryRun.examined).toBeGreaterThanOrEqual(dryRun.details.length);
  });

  it('a run repairs each state, and leaves the live upload and the running job alone', {
    timeout: 60_000,
  }, async () => {
    const run = await cleanup(false);
    expect(run).toMatchObject({ type: 'repair', dryRun: false, errors: 0 });
    const expected = [
      ['expired_uploads', ids.expired],
      ['stalled_processing', ids.stalled],
      ['never_queued', ids.unqueued],
      ['missing_originals', ids.missing],
      ['orphaned_objects', keys.videoPrefix(ids.orphan)],
      ['orphaned_partials', ids.partial],
      ['failed_deletes', `delete_prefix ${keys.videoPrefix(ids.failedDelete)}`],
    ] as const;
    for (const [check, target] of expected) {
      expect(itemFor(run, check, target)?.outcome, `${check} ${target}`).toBe('repaired');
    }
    expect(run.repaired).toBe(run.details.filter((d) => d.outcome === 'repaired').length);
    expect(run.repaired).toBeGreaterThanOrEqual(expected.length);

    // Expired: status, credits released, partial bytes deleted.
    const expired = await videoRow(db(), ids.expired);
    expect(expired.status).toBe('upload_expired');
    expect(expired.error_code).toBe('UPLOAD_EXPIRED');
    expect(await reservations(db(), ids.expired)).toEqual([{ state: 'released', amount: 10 }]);
    expect(await exists(path.join(server.dataDir, 'uploads', ids.expired))).toBe(false);
    // The live upload: untouched, its bytes still there, its credits still reserved.
    expect((await videoRow(db(), ids.live)).status).toBe('uploading');
    expect(await exists(path.join(server.dataDir, 'uploads', ids.live))).toBe(true);
    expect(await reservations(db(), ids.live)).toEqual([{ state: 'reserved', amount: 10 }]);

    // Stalled: queued again (to resume from its checkpoint). Running: no job added, still processing.
    expect(await processJobExists(ids.stalled)).toBe(true);
    expect(await processJobExists(ids.running)).toBe(false);
    expect((await videoRow(db(), ids.running)).status).toBe('processing');
    // Never queued: now queued.
    expect(await processJobExists(ids.unqueued)).toBe(true);
    // Missing original: failed with the storage code; a ready video's credits were captured already.
    const missing = await videoRow(db(), ids.missing);
    expect(missing.status).toBe('failed');
    expect(missing.error_code).toBe('ORIGINAL_MISSING');
    // The abandoned partial upload: both files gone.
    const left = await readdir(path.join(server.dataDir, 'uploads'));
    expect(left.filter((f) => f.startsWith(ids.partial))).toEqual([]);
    // Orphans: deleted; the fresh one kept. The failed delete: done.
    expect(await server.node.ctx.store.list(keys.videoPrefix(ids.orphan))).toEqual([]);
    expect(await server.node.ctx.store.list(keys.videoPrefix(ids.freshOrphan))).toHaveLength(2);
    expect(await server.node.ctx.store.list(keys.videoPrefix(ids.failedDelete))).toEqual([]);
    const job = await db()
      .selectFrom('cleanup_jobs')
      .select('done_at')
      .where('target', '=', keys.videoPrefix(ids.failedDelete))
      .executeTakeFirstOrThrow();
    expect(job.done_at).not.toBeNull();
    // The user's credits: held only for what may still be processed or uploaded (the stalled,
    // running, unqueued videos and the live upload); the expired and missing ones were released.
    const c = await credits(db(), user.user.id);
    expect(c.reserved).toBe(10 * 4);

    // The repairs are counted in the metrics.
    const m = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text());
    expect(sampleValue(m, 'clipdock_cleanup_repairs_total', { check: 'orphaned_objects' })).toBe(1);
    expect(sampleValue(m, 'clipdock_cleanup_repairs_total', { check: 'expired_uploads' })).toBe(1);

    // A second run finds nothing left to repair (the running job is still left alone).
    const again = await cleanup(false);
    expect(again.repaired).toBe(0);
    expect(again.details.map((d) => d.target)).not.toContain(ids.running);
    await lockClient.end();
  });

  it('records every run, newest first, with its counts and details', async () => {
    const res = await admin.api('/api/admin/cleanup-runs?limit=10');
    expect(res.status).toBe(200);
    const { runs } = (await res.json()) as { runs: CleanupRun[] };
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.map((r) => r.type).slice(0, 3)).toEqual(['repair', 'repair', 'dry_run']);
    expect(runs[2]!.id).toBe(dryRun.id);
    expect(runs[2]!.details).toEqual(dryRun.details);
    for (const r of runs) {
      expect(r.finishedAt).not.toBeNull();
      expect(new Date(r.finishedAt!).getTime()).toBeGreaterThanOrEqual(new Date(r.startedAt).getTime());
      expect(typeof r.examined).toBe('number');
    }
  });

  it('one sweep at a time: a second is refused with CLEANUP_RUNNING', async () => {
    const holder = new pg.Client({ connectionString: server.databaseUrl });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(hashtext($1))', ['clipdock.cleanup_sweep']);
      // No body at all: a run (dryRun defaults to false), refused while another holds the lock.
      const res = await admin.api('/api/admin/cleanup', { method: 'POST' });
      expect(res.status).toBe(409);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('CLEANUP_RUNNING');
    } finally {
      await holder.end();
    }
  });

  it('the schedule runs a sweep when the last scheduled one is older than the interval', async () => {
    const first = await runScheduledSweep(server.node.ctx);
    expect(first).toMatchObject({ trigger: 'scheduled', dryRun: false });
    expect(await runScheduledSweep(server.node.ctx)).toBeUndefined();
    await db()
      .updateTable('cleanup_runs')
      .set({ started_at: hoursAgo(2) })
      .where('id', '=', first!.id)
      .execute();
    expect((await runScheduledSweep(server.node.ctx))?.trigger).toBe('scheduled');
    // Runs older than the retention are dropped by the schedule; younger ones stay.
    await db()
      .updateTable('cleanup_runs')
      .set({ started_at: hoursAgo(24 * (RUN_RETENTION_DAYS + 1)) })
      .where('id', '=', first!.id)
      .execute();
    await db()
      .updateTable('cleanup_runs')
      .set({ started_at: hoursAgo(2) })
      .where('trigger', '=', 'scheduled')
      .where('id', '!=', first!.id)
      .execute();
    const third = await runScheduledSweep(server.node.ctx);
    expect(third?.trigger).toBe('scheduled');
    const ids = (await db().selectFrom('cleanup_runs').select('id').execute()).map((r) => r.id);
    expect(ids).not.toContain(first!.id);
    expect(ids).toContain(third!.id);
    expect(ids).toContain(dryRun.id);
  });

  it('npm run cleanup -- --dry-run runs with the same configuration and is recorded', {
    timeout: 60_000,
  }, async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['src/cli/cleanup.ts', '--dry-run', '--json'],
      { env: { ...process.env, ...server.env }, cwd: path.resolve(import.meta.dirname, '../..') },
    );
    const run = JSON.parse(stdout) as CleanupRun;
    expect(run).toMatchObject({ trigger: 'cli', dryRun: true, errors: 0 });
    const { runs } = (await (await admin.api('/api/admin/cleanup-runs')).json()) as { runs: CleanupRun[] };
    expect(runs[0]!.id).toBe(run.id);
  });
});

describe('admin-only routes', () => {
  it('answer 403 ADMIN_ONLY to a signed-in user who is not an administrator, 401 to nobody', async () => {
    for (const [method, p] of [
      ['POST', '/api/admin/cleanup'],
      ['GET', '/api/admin/cleanup-runs'],
      ['GET', '/api/admin/storage'],
    ] as const) {
      const init = method === 'POST' ? { method, body: JSON.stringify({ dryRun: false }) } : { method };
      const res = await user.api(p, init);
      expect(res.status, p).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ADMIN_ONLY');
      const anonymous = await fetch(`${server.url}${p}`, {
        ...init,
        ...('body' in init ? { headers: { 'content-type': 'application/json' } } : {}),
      });
      expect(anonymous.status, p).toBe(401);
    }
    const me = (await (await user.api('/api/me')).json()) as { user: { isAdmin: boolean } };
    expect(me.user.isAdmin).toBe(false);
  });

  it('with ADMIN_EMAILS, only the named accounts are administrators', async () => {
    const other = await startTestServer({ CLIPDOCK_ROLE: 'api', ADMIN_EMAILS: 'Boss@Example.com' });
    try {
      const first = await signUp(other.url);
      const boss = await signUp(other.url, 'boss@example.com');
      expect((await first.api('/api/admin/storage')).status).toBe(403);
      expect((await boss.api('/api/admin/storage')).status).toBe(200);
    } finally {
      await other.stop();
    }
  });
});
