import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { Counter } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clipdock } from '../../src/server.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { connectLive, startNode, until } from '../live/helpers.ts';
import { BAD_FILES, makeGood } from '../media/fixtures.ts';
import { uploadedVideo, waitForStatus } from '../processing/helpers.ts';
import { createSession, startTus } from '../uploads/helpers.ts';
import { parsePrometheus, sampleValue } from './prometheus.ts';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

let server: TestServer;
let worker: Clipdock | undefined;
let dir: string;
beforeAll(async () => {
  server = await startTestServer({ METRICS_TOKEN, FFMPEG_THREADS: '1' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-metrics-'));
});
afterAll(async () => {
  await worker?.stop();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function scrape(baseUrl: string) {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

describe('GET /metrics', () => {
  it('requires the metrics token when METRICS_TOKEN is set', async () => {
    const none = await fetch(`${server.url}/metrics`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('METRICS_TOKEN_REQUIRED');
    const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    // A user's API token is not the metrics token.
    const user = await signUp(server.url);
    expect((await user.api('/metrics')).status).toBe(401);
  });

  it('exports uploads, processing, videos, queue, sockets and HTTP series after real work', {
    timeout: 180_000,
  }, async () => {
    const user = await signUp(server.url);
    const db = server.node.ctx.db;
    // A real upload over tus, processed to ready.
    const file = await makeGood('h264_aac_mov', dir);
    const body = await readFile(file);
    const session = await createSession(user.api, [{ name: 'phone.mov', size: body.length }]);
    const f = session.files[0]!;
    await startTus(body, { token: user.token, file: f }).done;
    await waitForStatus(db, f.videoId, ['ready']);
    // A bad file that fails processing for good.
    const bad = BAD_FILES.text_as_mp4!;
    const badFile = path.join(dir, bad.file);
    await bad.make(badFile, dir);
    const badId = await uploadedVideo(server, user.user.id, badFile);
    await waitForStatus(db, badId, ['failed']);
    // A job no worker here handles, due a minute ago: it stays queued and ages.
    await sql`SELECT graphile_worker.add_job('ops_test_unhandled', '{}'::json, run_at := now() - interval '1 minute')`.execute(
      db,
    );
    new Counter({ name: 'clipdock_test_default_registry_total', help: 'A test counter.' }).inc(2);
    const live = await connectLive(server.url, user.token);
    try {
      await until(async () => sampleValue(await scrape(server.url), 'clipdock_websocket_connections') === 1);
      const s = await scrape(server.url);
      expect(
        sampleValue(s, 'clipdock_http_request_duration_seconds_count', {
          route: '/api/upload-sessions',
          method: 'POST',
          status: '201',
        }),
      ).toBeGreaterThanOrEqual(1);
      expect(sampleValue(s, 'clipdock_upload_bytes_received_total')).toBeGreaterThanOrEqual(body.length);
      expect(sampleValue(s, 'clipdock_upload_requests_total')).toBeGreaterThanOrEqual(1);
      expect(sampleValue(s, 'clipdock_uploads_total', { outcome: 'uploaded' })).toBe(1);
      expect(sampleValue(s, 'clipdock_videos', { status: 'ready' })).toBe(1);
      expect(sampleValue(s, 'clipdock_videos', { status: 'failed' })).toBe(1);
      expect(sampleValue(s, 'clipdock_videos', { status: 'uploading' })).toBe(0);
      for (const step of ['probe', 'normalize', 'poster']) {
        expect(
          sampleValue(s, 'clipdock_processing_step_duration_seconds_count', { step }),
        ).toBeGreaterThanOrEqual(1);
      }
      expect(sampleValue(s, 'clipdock_processing_failures_total', { code: bad.code })).toBe(1);
      expect(sampleValue(s, 'clipdock_queue_jobs', { task: 'ops_test_unhandled' })).toBe(1);
      expect(sampleValue(s, 'clipdock_queue_oldest_job_age_seconds')).toBeGreaterThanOrEqual(59);
      expect(sampleValue(s, 'clipdock_websocket_connections')).toBe(1);
      // prom-client's process defaults, under the same prefix.
      expect(s.some((x) => x.name.startsWith('clipdock_process_'))).toBe(true);
      // A series another module keeps on prom-client's default registry is exported too.
      expect(sampleValue(s, 'clipdock_test_default_registry_total')).toBe(2);
    } finally {
      live.close();
    }
  });

  it('is served by a worker-only node on its own small listener, with the health probes', async () => {
    worker = await startNode({ ...server.env, CLIPDOCK_ROLE: 'worker', PORT: '0' });
    expect(worker.url).toBeUndefined();
    const base = worker.metricsUrl!;
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    const s = await scrape(base);
    expect(sampleValue(s, 'clipdock_videos', { status: 'ready' })).toBe(1);
    expect(s.some((x) => x.name === 'clipdock_queue_oldest_job_age_seconds')).toBe(true);
    const live = await fetch(`${base}/api/health/live`);
    expect(live.status).toBe(200);
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    const ready = await fetch(`${base}/api/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'ok', storage: 'ok' } });
    const other = await fetch(`${base}/api/videos`);
    expect(other.status).toBe(404);
  });

  it('a worker whose metrics port is taken still starts, without the listener', async () => {
    const port = new URL(server.url).port;
    const second = await startNode({ ...server.env, CLIPDOCK_ROLE: 'worker', PORT: '0', METRICS_PORT: port });
    try {
      expect(second.metricsUrl).toBeUndefined();
      // The API node that holds the port is unaffected.
      expect((await fetch(`${server.url}/api/health/live`)).status).toBe(200);
    } finally {
      await second.stop();
    }
  });
});

describe('health probes', () => {
  it('live and ready answer 200 while database and storage answer', async () => {
    const live = await fetch(`${server.url}/api/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${server.url}/api/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'ok', storage: 'ok' } });
  });

  it('ready answers 503 naming storage when the storage volume is broken, and database when it is gone; metrics still answer', async () => {
    const other = await startTestServer({ CLIPDOCK_ROLE: 'api' });
    try {
      // The storage root is no longer a directory (a volume mounted wrong).
      const root = path.join(other.dataDir, 'storage');
      await rm(root, { recursive: true, force: true });
      await writeFile(root, 'not a directory');
      const res = await fetch(`${other.url}/api/health/ready`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as {
        checks: Record<string, string>;
        error: { code: string; message: string };
      };
      expect(body.checks).toEqual({ database: 'ok', storage: 'failed' });
      expect(body.error.code).toBe('NOT_READY');
      expect(body.error.message).toMatch(/storage/);
      // Liveness is about the process: still 200.
      expect((await fetch(`${other.url}/api/health/live`)).status).toBe(200);

      // The node's database is dropped from under it (its connections are terminated).
      const dbName = new URL(other.databaseUrl).pathname.slice(1);
      await sql`DROP DATABASE ${sql.id(dbName)} WITH (FORCE)`.execute(server.node.ctx.db);
      const down = await fetch(`${other.url}/api/health/ready`);
      expect(down.status).toBe(503);
      const downBody = (await down.json()) as { checks: Record<string, string> };
      expect(downBody.checks.database).toBe('failed');
      // Metrics still answer (the process series), so the outage itself can be seen and alerted on.
      const m = await fetch(`${other.url}/metrics`);
      expect(m.status).toBe(200);
      expect(
        parsePrometheus(await m.text()).some((x) => x.name === 'clipdock_process_cpu_seconds_total'),
      ).toBe(true);
    } finally {
      await other.stop();
    }
  });
});
