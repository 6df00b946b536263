import { sql } from 'kysely';
import pino from 'pino';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.ts';
import type { Db } from '../../src/db/database.ts';
import type { VideoStatus } from '../../src/db/types.ts';
import { publishVideoEvent } from '../../src/events/video-events.ts';
import { type Clipdock, startClipdock } from '../../src/server.ts';

/** Another node on the same database and storage as a test server (`server.env` plus overrides). */
export async function startNode(env: Record<string, string>): Promise<Clipdock & { url: string }> {
  const config = loadConfig(env);
  const node = await startClipdock(config, pino({ level: config.logLevel }));
  return node as Clipdock & { url: string };
}

/** A message the server pushed, as the client parsed it. */
export interface Msg {
  type: string;
  seq: number;
  videoId?: string;
  status?: string;
  step?: string | null;
  progress?: number;
  name?: string;
  [k: string]: unknown;
}

/** A live client: every message it received, and a way to wait for one. */
export interface LiveClient {
  ws: WebSocket;
  messages: Msg[];
  /** Resolves with the first message (from `from` on) that satisfies `pred`. */
  waitFor(pred: (m: Msg) => boolean, opts?: { from?: number; timeoutMs?: number }): Promise<Msg>;
  send(m: unknown): void;
  closed: Promise<{ code: number }>;
  close(): void;
}

export async function connectLive(
  baseUrl: string,
  token: string,
  opts: WebSocket.ClientOptions = {},
): Promise<LiveClient> {
  // As a script connects: the Authorization header (a session or API token in the URL is refused).
  const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/ws`, {
    ...opts,
    headers: { authorization: `Bearer ${token}`, ...opts.headers },
  });
  const messages: Msg[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    messages.push(JSON.parse(data.toString()) as Msg);
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ code: number }>((resolve) => ws.on('close', (code) => resolve({ code })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return {
    ws,
    messages,
    closed,
    send: (m) => ws.send(JSON.stringify(m)),
    close: () => ws.close(),
    waitFor(pred, { from = 0, timeoutMs = 20_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.slice(from).find(pred);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages.slice(from).slice(-10))}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

/** Waits until `fn` returns a truthy value (polling the test's own view, never the server's clock). */
export async function until<T>(fn: () => Promise<T> | T, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function defaultProjectId(db: Db, userId: string): Promise<string> {
  const p = await db
    .selectFrom('projects')
    .select('id')
    .where('user_id', '=', userId)
    .where('is_default', '=', true)
    .executeTakeFirstOrThrow();
  return p.id;
}

/** Inserts a video row as an upload session would (no credits involved). */
export async function insertVideo(
  db: Db,
  userId: string,
  opts: { name?: string; projectId?: string; sessionId?: string | null; status?: VideoStatus } = {},
): Promise<string> {
  const projectId = opts.projectId ?? (await defaultProjectId(db, userId));
  const row = await db
    .insertInto('videos')
    .values({
      user_id: userId,
      project_id: projectId,
      session_id: opts.sessionId ?? null,
      name: opts.name ?? 'clip.mp4',
      declared_size: 1000,
      declared_type: 'video/mp4',
      status: opts.status ?? 'pending_upload',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function insertSession(db: Db, userId: string, fileCount = 1): Promise<string> {
  const projectId = await defaultProjectId(db, userId);
  const row = await db
    .insertInto('upload_sessions')
    .values({ user_id: userId, project_id: projectId, file_count: fileCount, total_bytes: 1000 * fileCount })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * Changes a video the way producers do: the row (and its analysis) updated and the event
 * published in one transaction.
 */
export async function transition(
  db: Db,
  videoId: string,
  change: { status: VideoStatus; uploadProgress?: number; step?: string | null; progress?: number },
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const v = await tx
      .updateTable('videos')
      .set({
        status: change.status,
        ...(change.uploadProgress !== undefined ? { upload_progress: change.uploadProgress } : {}),
        updated_at: sql`now()`,
      })
      .where('id', '=', videoId)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (change.step !== undefined || change.progress !== undefined) {
      await tx
        .insertInto('video_analysis')
        .values({
          video_id: videoId,
          processing_step: change.step ?? null,
          overall_progress: change.progress ?? 0,
        })
        .onConflict((oc) =>
          oc.column('video_id').doUpdateSet({
            processing_step: change.step ?? null,
            overall_progress: change.progress ?? 0,
            updated_at: sql`now()`,
          }),
        )
        .execute();
    }
    await publishVideoEvent(tx, {
      videoId,
      userId: v.user_id,
      projectId: v.project_id,
      sessionId: v.session_id,
      status: change.status,
      step: change.step ?? null,
      progress:
        change.status === 'uploading'
          ? (change.uploadProgress ?? 0)
          : change.status === 'ready' || change.status === 'uploaded'
            ? 100
            : (change.progress ?? 0),
      error: null,
      updatedAt: v.updated_at.toISOString(),
    });
  });
}

export const videoMessages = (c: LiveClient, videoId: string) =>
  c.messages.filter((m) => m.type === 'video.status' && m.videoId === videoId);
