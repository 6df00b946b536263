import { type ExpressionBuilder, sql } from 'kysely';
import type { DbOrTx } from '../db/database.ts';
import type { Database, VideoStatus } from '../db/types.ts';
import type { VideoStateRow } from './video-dto.ts';

/**
 * Every read and write of the videos area. Every query is scoped to its owner: a video of
 * another user is simply not found.
 */

type Eb = ExpressionBuilder<Database & { v: Database['videos']; a: Database['video_analysis'] }, 'v' | 'a'>;

/** Columns of `VideoStateRow`: the video joined with its analysis (one row at most, by the unique key). */
const stateColumns = (eb: Eb) =>
  [
    'v.id',
    'v.user_id',
    'v.name',
    'v.status',
    'v.project_id',
    'v.session_id',
    'v.declared_size',
    'v.mime_type',
    'v.declared_type',
    'v.upload_progress',
    'v.error_code',
    'v.error_message',
    'v.created_at',
    // Progress lives on the analysis row; the later of the two is when the video last changed.
    sql<Date>`greatest(v.updated_at, a.updated_at)`.as('updated_at'),
    'a.processing_step',
    'a.overall_progress',
    eb.ref('a.error_code').as('analysis_error_code'),
    eb.ref('a.error_message').as('analysis_error_message'),
    sql<number | null>`(a.metadata->>'durationSeconds')::float8`.as('duration_seconds'),
    sql<string | null>`a.outputs->>'poster'`.as('poster_key'),
    'a.enrichment_status',
    'a.enrichment_step',
    'a.enrichment_progress',
    'a.enrichment_error_code',
    'a.enrichment_error_message',
    'a.eta_seconds',
  ] as const;

const videosWithAnalysis = (db: DbOrTx) =>
  db
    .selectFrom('videos as v')
    .leftJoin('video_analysis as a', 'a.video_id', 'v.id')
    .select((eb) => stateColumns(eb as unknown as Eb));

export const ACTIVE_STATUSES: VideoStatus[] = ['pending_upload', 'uploading', 'uploaded', 'processing'];

export async function findVideo(db: DbOrTx, userId: string, videoId: string) {
  return videosWithAnalysis(db)
    .where('v.user_id', '=', userId)
    .where('v.id', '=', videoId)
    .executeTakeFirst() as Promise<VideoStateRow | undefined>;
}

/** A video's state by id alone (the pipeline's events; it already knows whose video it is). */
export async function findVideoState(db: DbOrTx, videoId: string) {
  return videosWithAnalysis(db).where('v.id', '=', videoId).executeTakeFirst() as Promise<
    VideoStateRow | undefined
  >;
}

export async function findAnalysis(db: DbOrTx, videoId: string) {
  return db.selectFrom('video_analysis').selectAll().where('video_id', '=', videoId).executeTakeFirst();
}

/** Batch status: by ids or by upload session, one query either way. */
export async function statesByIds(db: DbOrTx, userId: string, videoIds: string[]): Promise<VideoStateRow[]> {
  if (videoIds.length === 0) return [];
  return (await videosWithAnalysis(db)
    .where('v.user_id', '=', userId)
    .where('v.id', 'in', videoIds)
    .orderBy('v.created_at')
    .orderBy('v.id')
    .execute()) as VideoStateRow[];
}

export async function statesBySession(
  db: DbOrTx,
  userId: string,
  sessionId: string,
): Promise<VideoStateRow[]> {
  return (await videosWithAnalysis(db)
    .where('v.user_id', '=', userId)
    .where('v.session_id', '=', sessionId)
    .orderBy('v.created_at')
    .orderBy('v.id')
    .execute()) as VideoStateRow[];
}

export interface ListFilter {
  projectId?: string;
  statuses?: VideoStatus[];
  /** Substring of the name, matched case-insensitively and literally (% and _ are not wildcards). */
  search?: string;
  /** Keyset position: rows strictly after this (created_at, id) in newest-first order. */
  after?: { createdAt: string; id: string };
  limit: number;
}

/**
 * One page of the library, newest first, keyset-paged on (created_at, id) so a page costs the
 * same wherever it is and rows inserted meanwhile neither repeat nor shift later pages.
 * Returns `limit + 1` rows at most (the extra one says whether there is a next page) and the
 * exact created_at text of each row (microseconds; a JS Date would lose them).
 */
export async function listPage(db: DbOrTx, userId: string, f: ListFilter) {
  let q = videosWithAnalysis(db)
    .select(sql<string>`v.created_at::text`.as('created_at_exact'))
    .where('v.user_id', '=', userId);
  if (f.projectId) q = q.where('v.project_id', '=', f.projectId);
  if (f.statuses && f.statuses.length > 0) q = q.where('v.status', 'in', f.statuses);
  if (f.search) {
    // Accents ignored on both sides ("ete" finds "Été"; "été" finds "Ete"); case by ILIKE.
    const pattern = `%${escapeLike(foldAccents(f.search))}%`;
    q = q.where(sql<boolean>`translate(v.name, ${ACCENTED}, ${FOLDED}) ilike ${pattern}`);
  }
  if (f.after) {
    q = q.where(
      sql<boolean>`(v.created_at, v.id) < (${f.after.createdAt}::timestamptz, ${f.after.id}::uuid)`,
    );
  }
  return (await q
    .orderBy('v.created_at', 'desc')
    .orderBy('v.id', 'desc')
    .limit(f.limit + 1)
    .execute()) as Array<VideoStateRow & { created_at_exact: string }>;
}

/** Escapes LIKE's wildcards and its escape character (backslash, PostgreSQL's default). */
/** Latin letters that are a base letter plus marks, and letters with a stroke that do not decompose. */
const STROKED: Record<string, string> = { Ø: 'O', ø: 'o', Ł: 'L', ł: 'l', Đ: 'D', đ: 'd', Ħ: 'H', ħ: 'h' };
const LETTERS = [
  ...'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿ',
  ...'ĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžȘșȚț',
];
/** Combining marks, as in decomposed (NFD) names: deleted by translate (they have no counterpart). */
const MARKS = '\u0300\u0301\u0302\u0303\u0304\u0306\u0307\u0308\u030a\u030b\u030c\u0323\u0326\u0327\u0328';
const baseOf = (c: string) => STROKED[c] ?? c.normalize('NFD').replace(/\p{M}/gu, '');
/** translate()'s from and to lists: each accented letter maps to its base letter, marks to nothing. */
const ACCENTED = [...LETTERS, ...Object.keys(STROKED)].join('') + MARKS;
const FOLDED = [...LETTERS, ...Object.keys(STROKED)].map(baseOf).join('');

/** The text with accents removed, as the search query folds names. */
export function foldAccents(s: string): string {
  return [...s.normalize('NFC')].map((c) => STROKED[c] ?? c.normalize('NFD').replace(/\p{M}/gu, '')).join('');
}

export function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** What a live client watches. */
export type Watch =
  | { kind: 'all' }
  | { kind: 'session'; sessionId: string }
  | { kind: 'project'; projectId: string };

/** How far back "recently changed" reaches in a live snapshot, and how many rows it may hold. */
export const LIVE_RECENT_HOURS = 24;
export const LIVE_SNAPSHOT_LIMIT = 500;

/**
 * The current state of what a live client watches, in ONE statement, with that statement's
 * snapshot (`pg_current_snapshot()`) on every row so events can be reconciled with it exactly.
 * For a session: all its videos. For a project or everything: unfinished videos plus those
 * changed recently, newest change first, bounded. `alsoIds` are videos the client was told about
 * before: they are read whatever their age, so a client can be told which of them are gone.
 */
export async function liveState(
  db: DbOrTx,
  userId: string,
  watch: Watch,
  alsoIds: string[] = [],
): Promise<Array<VideoStateRow & { snapshot: string }>> {
  const recent = db
    .selectFrom('videos')
    .select(['id'])
    .where('user_id', '=', userId)
    .$call((q) =>
      watch.kind === 'session'
        ? q.where('session_id', '=', watch.sessionId)
        : (watch.kind === 'project' ? q.where('project_id', '=', watch.projectId) : q).where((eb) =>
            eb.or([
              eb('status', 'in', ACTIVE_STATUSES),
              eb('updated_at', '>', sql<Date>`now() - make_interval(hours => ${LIVE_RECENT_HOURS})`),
            ]),
          ),
    )
    .orderBy('updated_at', 'desc')
    .limit(watch.kind === 'session' ? 2 * LIVE_SNAPSHOT_LIMIT : LIVE_SNAPSHOT_LIMIT);
  const rows = await videosWithAnalysis(db)
    .select(sql<string>`pg_current_snapshot()::text`.as('snapshot'))
    .where('v.user_id', '=', userId)
    .where('v.id', 'in', (eb) => {
      const bounded = eb.selectFrom(recent.as('r')).select('r.id');
      return alsoIds.length > 0
        ? bounded.union(
            eb
              .selectFrom('videos as k')
              .select('k.id')
              .where('k.user_id', '=', userId)
              .where('k.id', 'in', alsoIds),
          )
        : bounded;
    })
    .orderBy('v.created_at')
    .orderBy('v.id')
    .execute();
  return rows as Array<VideoStateRow & { snapshot: string }>;
}

export async function lockVideo(db: DbOrTx, userId: string, videoId: string) {
  return db
    .selectFrom('videos')
    .selectAll()
    .where('user_id', '=', userId)
    .where('id', '=', videoId)
    .forUpdate()
    .executeTakeFirst();
}

export async function setName(db: DbOrTx, userId: string, videoId: string, name: string) {
  return db
    .updateTable('videos')
    .set({ name, updated_at: sql`now()` })
    .where('user_id', '=', userId)
    .where('id', '=', videoId)
    .returning(['id', 'user_id', 'project_id', 'session_id', 'updated_at'])
    .executeTakeFirst();
}

export async function deleteRow(db: DbOrTx, videoId: string): Promise<void> {
  await db.deleteFrom('videos').where('id', '=', videoId).execute();
}

/**
 * Drops the video's pending processing job, if any (graphile-worker's remove_job; a job that is
 * running is only kept from retrying, and finds its video gone).
 */
export async function removeProcessingJob(db: DbOrTx, jobKey: string): Promise<void> {
  await sql`SELECT graphile_worker.remove_job(${jobKey})`.execute(db);
}
