import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { publishVideoEvent } from '../src/events/video-events.ts';
import { type Clipdock, startClipdock } from '../src/server.ts';
import { encodeCursor } from '../src/videos/cursor.ts';
import { NODE } from './lib/child.ts';
import { printTable, section } from './lib/table.ts';

/**
 * Live status benchmarks:
 * (1) latency from a progress change committed by a separate "worker" process to its arrival at
 *     each of 200 connected WebSocket clients (20 users × 10 tabs), p50/p99;
 * (2) database statements per minute caused by open, idle dashboards (pg_stat_statements);
 * (3) library page 1 vs page 1000 of 200,000 videos (keyset paging), through HTTP.
 * The API node runs in this process; the clients and the producer are child processes (modes of
 * this same file).
 */
const ROOT = new URL('..', import.meta.url).pathname;
const DATA = path.join(ROOT, 'bench/.data/live');
const THIS = fileURLToPath(import.meta.url);

const USERS = 20;
const TABS = 10;
const TICKS = Number(process.env.LIVE_BENCH_TICKS ?? 25);
/** Longer than the progress throttle's 250 ms, so every tick is forwarded as made. */
const TICK_MS = 400;
const IDLE_SECONDS = Number(process.env.LIVE_BENCH_IDLE_SECONDS ?? 60);
const LIBRARY_SIZE = 200_000;
const PAGE = 50;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const median = (xs: number[]) => pct(xs, 50);
/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes of one machine. */
const wallNow = () => performance.timeOrigin + performance.now();

export async function run(): Promise<void> {
  section('Live status');
  await rm(DATA, { recursive: true, force: true });
  const external = process.env.BENCH_DATABASE_URL;
  const embedded = external
    ? undefined
    : await startEmbeddedPostgres({
        dir: path.join(DATA, 'db'),
        ownedRoot: DATA,
        settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' },
      });
  const databaseUrl = external ?? embedded!.url;
  const config = loadConfig({
    CLIPDOCK_ROLE: 'api',
    PORT: '0',
    HOST: '127.0.0.1',
    CLIPDOCK_DATA_DIR: path.join(DATA, 'node'),
    LOG_LEVEL: 'warn',
    DATABASE_URL: databaseUrl,
  });
  const node = await startClipdock(config, pino({ level: 'warn' }));
  let clientsProc: ReturnType<typeof child> | undefined;
  const CLIENTS = USERS * TABS;
  try {
    const users = await makeUsers(node);
    const loadBefore = loadavg()[0]!;
    const latencies = await latencyBench(node, databaseUrl, users);
    clientsProc = latencies.clients;
    const loadAfter = loadavg()[0]!;
    const idle = await idleBench(databaseUrl, async () => {
      latencies.clients.proc.kill('SIGTERM');
      await latencies.clients.exited;
    });
    const paging = await pagingBench(node, users[0]!);

    printTable(
      ['measure', 'Clipdock', 'seed (5 s polling)', 'goal'],
      [
        [
          `progress → ${CLIENTS} WebSocket clients, p50`,
          `${latencies.p50.toFixed(0)} ms`,
          '2500 ms (average wait)',
          '',
        ],
        [
          `progress → ${CLIENTS} WebSocket clients, p99`,
          `${latencies.p99.toFixed(0)} ms`,
          '5000 ms',
          '≤ 100 ms',
        ],
        [`(samples: ${latencies.n}, max ${latencies.max.toFixed(0)} ms)`, '', '', ''],
        [
          '  from commit acknowledged to arrival, p50 / p99',
          `${latencies.commitP50.toFixed(1)} / ${latencies.commitP99.toFixed(1)} ms`,
          '',
          '',
        ],
        [
          '  the producer’s own transaction (update + notify + commit), p50 / p99',
          `${latencies.txP50.toFixed(1)} / ${latencies.txP99.toFixed(1)} ms`,
          '',
          '',
        ],
        [
          `DB statements/min, ${CLIENTS} idle dashboards`,
          idle.withClients.toFixed(1),
          `${12 * CLIENTS} (12 per dashboard)`,
          '~0',
        ],
        ['DB statements/min, same node, no dashboard', idle.without.toFixed(1), '', ''],
        [
          `library page 1 (${PAGE} of ${LIBRARY_SIZE.toLocaleString('en')}), median`,
          `${paging.first.toFixed(1)} ms`,
          '',
          '',
        ],
        ['library page 1000, median (keyset)', `${paging.thousandth.toFixed(1)} ms`, '', '≤ 2× page 1'],
        ['  same page with OFFSET (SQL only, for contrast)', `${paging.offsetSql.toFixed(1)} ms`, '', ''],
      ],
    );
    console.log(
      `\nPage 1000 / page 1 = ${(paging.thousandth / paging.first).toFixed(2)}×. Idle statements come from ${idle.source}.` +
        (idle.top.length ? ` In the window: ${idle.top.join('; ')}.` : ''),
    );
    console.log(
      `Machine load (1-min average) around the latency run: ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)}; the API node, the 200 clients and the producer are three processes.`,
    );
  } finally {
    clientsProc?.proc.kill('SIGKILL');
    await node.stop();
    await embedded?.stop();
  }
}

interface BenchUser {
  token: string;
  id: string;
  videoId: string;
}

async function makeUsers(node: Clipdock): Promise<BenchUser[]> {
  const users: BenchUser[] = [];
  for (let i = 0; i < USERS; i++) {
    const res = await fetch(`${node.url}/api/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: `live-${i}-${Date.now()}@example.com`,
        password: 'correct horse battery',
      }),
    });
    const { token, user } = (await res.json()) as { token: string; user: { id: string } };
    const { db } = node.ctx;
    const project = await db
      .selectFrom('projects')
      .select('id')
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    const v = await db
      .insertInto('videos')
      .values({
        user_id: user.id,
        project_id: project.id,
        name: 'bench.mp4',
        declared_size: 1,
        status: 'processing',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db.insertInto('video_analysis').values({ video_id: v.id, processing_step: 'normalize' }).execute();
    users.push({ token, id: user.id, videoId: v.id });
  }
  return users;
}

/** Starts `node live.bench.ts <mode>` and collects its stdout. */
function child(mode: 'producer' | 'clients', env: Record<string, string>) {
  const proc = spawn(NODE, [THIS, mode], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.filter((x) => x.re.test(out))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', r));
  return {
    proc,
    exited,
    output: () => out,
    /** Resolves when stdout matches, or after `ms` (the caller then reports what is missing). */
    waitFor: (re: RegExp, ms: number) =>
      new Promise<void>((resolve) => {
        if (re.test(out)) return resolve();
        waiters.push({ re, resolve });
        setTimeout(resolve, ms).unref();
      }),
  };
}

/**
 * The clients run in a process of their own, as browsers would: the API node's process does
 * only the server's work. They report each arrival with a wall-clock time comparable to the
 * producer's.
 */
async function latencyBench(node: Clipdock, databaseUrl: string, users: BenchUser[]) {
  const expected = TICKS * USERS * TABS;
  const clients = child('clients', {
    LIVE_BENCH_WS: `${node.url!.replace(/^http/, 'ws')}/api/ws`,
    LIVE_BENCH_TOKENS: JSON.stringify(users.flatMap((u) => Array.from({ length: TABS }, () => u.token))),
    LIVE_BENCH_EXPECTED: String(expected),
  });
  await clients.waitFor(/^READY$/m, 120_000);
  if (!/^READY$/m.test(clients.output())) throw new Error('the WebSocket clients did not connect');
  const producer = child('producer', {
    LIVE_BENCH_DB: databaseUrl,
    LIVE_BENCH_VIDEOS: JSON.stringify(users.map((u) => ({ userId: u.id, videoId: u.videoId }))),
  });
  const code = await producer.exited;
  if (code !== 0) throw new Error(`the producer process exited with ${code}`);
  await clients.waitFor(/^DONE$/m, 30_000);
  const out = producer.output();
  const tx = JSON.parse(/TX (.*)/.exec(out)?.[1] ?? '{}') as { p50?: number; p99?: number };
  const committed = new Map<string, number>();
  const started = new Map<string, number>();
  for (const m of out.matchAll(/^C (\S+) (\d+) ([\d.]+) ([\d.]+)$/gm)) {
    started.set(`${m[1]}:${m[2]}`, Number(m[3]));
    committed.set(`${m[1]}:${m[2]}`, Number(m[4]));
  }
  const samples: number[] = [];
  const afterCommit: number[] = [];
  for (const m of clients.output().matchAll(/^A (\S+) (\d+) ([\d.]+)$/gm)) {
    const key = `${m[1]}:${m[2]}`;
    const at = Number(m[3]);
    if (started.has(key)) samples.push(at - started.get(key)!);
    if (committed.has(key)) afterCommit.push(at - committed.get(key)!);
  }
  if (samples.length < expected) console.log(`(only ${samples.length} of ${expected} messages arrived)`);
  return {
    clients,
    p50: pct(samples, 50),
    p99: pct(samples, 99),
    max: Math.max(...samples),
    n: samples.length,
    txP50: tx.p50 ?? Number.NaN,
    txP99: tx.p99 ?? Number.NaN,
    commitP50: pct(afterCommit, 50),
    commitP99: pct(afterCommit, 99),
  };
}

/** Child mode: the 200 WebSocket clients. Prints READY once all have their snapshot, then arrivals. */
async function clientsMain(): Promise<void> {
  const url = process.env.LIVE_BENCH_WS!;
  const tokens = JSON.parse(process.env.LIVE_BENCH_TOKENS!) as string[];
  const expected = Number(process.env.LIVE_BENCH_EXPECTED);
  const lines: string[] = [];
  const sockets: WebSocket[] = [];
  await Promise.all(
    tokens.map(
      (token) =>
        new Promise<void>((resolve, reject) => {
          const ws = new WebSocket(`${url}?token=${token}`);
          sockets.push(ws);
          let synced = false;
          ws.on('message', (data) => {
            const at = wallNow();
            const m = JSON.parse(data.toString()) as { type: string; videoId?: string; progress?: number };
            if (m.type === 'synced' && !synced) {
              synced = true;
              resolve();
            } else if (synced && m.type === 'video.status' && (m.progress ?? 0) >= 1) {
              lines.push(`A ${m.videoId} ${m.progress} ${at.toFixed(3)}`);
              if (lines.length === expected) console.log(`${lines.join('\n')}\nDONE`);
            }
          });
          ws.once('error', reject);
        }),
    ),
  );
  console.log('READY');
  // Idle dashboards from now on, until the parent ends them.
  process.on('SIGTERM', () => {
    if (lines.length < expected) console.log(`${lines.join('\n')}\nDONE`);
    for (const ws of sockets) ws.close();
    setTimeout(() => process.exit(0), 500);
  });
}

/** Statements run against the database over a window, per minute, from pg_stat_statements when loaded. */
async function idleBench(databaseUrl: string, closeClients: () => Promise<void>) {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    let statements = true;
    try {
      await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await admin.query('SELECT count(*) FROM pg_stat_statements');
    } catch {
      statements = false;
    }
    // The measuring session's own statements are left out (they mention pg_stat_statements).
    const read = async (): Promise<{ total: number; byQuery: Map<string, number> }> => {
      if (statements) {
        const r = await admin.query<{ query: string; calls: string }>(
          `SELECT query, calls FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
           WHERE d.datname = current_database() AND query NOT ILIKE '%pg_stat_statements%'`,
        );
        const byQuery = new Map(r.rows.map((x) => [x.query, Number(x.calls)]));
        return { total: [...byQuery.values()].reduce((a, b) => a + b, 0), byQuery };
      }
      const r = await admin.query<{ n: string }>(
        'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()',
      );
      return { total: Number(r.rows[0]!.n) - 1, byQuery: new Map() };
    };
    const windowed = async () => {
      const a = await read();
      await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
      const b = await read();
      const top = [...b.byQuery]
        .map(([q, n]) => [q, n - (a.byQuery.get(q) ?? 0)] as const)
        .filter(([, n]) => n > 0)
        .map(([q, n]) => `${n}× ${q.replace(/\s+/g, ' ').slice(0, 60)}`);
      return { perMinute: ((b.total - a.total) * 60) / IDLE_SECONDS, top };
    };
    // Let the connects' snapshots finish before counting.
    await new Promise((r) => setTimeout(r, 2000));
    const withClients = await windowed();
    await closeClients();
    await new Promise((r) => setTimeout(r, 1000));
    const without = await windowed();
    return {
      withClients: withClients.perMinute,
      without: without.perMinute,
      top: [...withClients.top.map((t) => `with dashboards ${t}`), ...without.top.map((t) => `without ${t}`)],
      source: statements ? 'pg_stat_statements' : 'pg_stat_database transaction counts',
    };
  } finally {
    await admin.end();
  }
}

async function pagingBench(node: Clipdock, user: BenchUser) {
  const { db } = node.ctx;
  const project = await db
    .selectFrom('projects')
    .select('id')
    .where('user_id', '=', user.id)
    .executeTakeFirstOrThrow();
  await sql`
    INSERT INTO videos (user_id, project_id, name, declared_size, status, created_at, updated_at)
    SELECT ${user.id}::uuid, ${project.id}::uuid, 'clip-' || i || '.mp4', 1000 + i,
      (ARRAY['ready','ready','ready','failed','processing'])[1 + i % 5],
      now() - make_interval(secs => i), now() - make_interval(secs => i)
    FROM generate_series(1, ${LIBRARY_SIZE}) AS i`.execute(db);
  await sql`ANALYZE videos`.execute(db);
  const nth = await sql<{ created_at: string; id: string }>`
    SELECT created_at::text AS created_at, id FROM videos WHERE user_id = ${user.id}
    ORDER BY created_at DESC, id DESC OFFSET ${PAGE * 999 - 1} LIMIT 1`.execute(db);
  const cursor = encodeCursor({ createdAt: nth.rows[0]!.created_at, id: nth.rows[0]!.id });
  const get = async (q: string) => {
    const t = performance.now();
    const res = await fetch(`${node.url}/api/videos?limit=${PAGE}${q}`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    const body = (await res.json()) as { videos: unknown[] };
    if (res.status !== 200 || body.videos.length !== PAGE) throw new Error(`unexpected page: ${res.status}`);
    return performance.now() - t;
  };
  const first: number[] = [];
  const thousandth: number[] = [];
  for (let i = 0; i < 10; i++) {
    await get('');
    await get(`&cursor=${cursor}`);
  }
  for (let i = 0; i < 50; i++) {
    first.push(await get(''));
    thousandth.push(await get(`&cursor=${cursor}`));
  }
  const offsetSql: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    await sql`SELECT id FROM videos WHERE user_id = ${user.id} ORDER BY created_at DESC, id DESC
      OFFSET ${PAGE * 999} LIMIT ${PAGE}`.execute(db);
    offsetSql.push(performance.now() - t);
  }
  return { first: median(first), thousandth: median(thousandth), offsetSql: median(offsetSql) };
}

/**
 * The "worker": a separate process that, every TICK_MS, advances the progress of each video and
 * publishes it in the same transaction, as the processing pipeline does. `updatedAt` carries the
 * moment the change started, which the clients subtract from their arrival time.
 */
async function producer(): Promise<void> {
  const { db, close } = openDatabase(process.env.LIVE_BENCH_DB!, 4);
  const videos = JSON.parse(process.env.LIVE_BENCH_VIDEOS!) as Array<{ userId: string; videoId: string }>;
  const projects = new Map<string, { project_id: string; session_id: string | null }>();
  for (const v of videos) {
    projects.set(
      v.videoId,
      await db
        .selectFrom('videos')
        .select(['project_id', 'session_id'])
        .where('id', '=', v.videoId)
        .executeTakeFirstOrThrow(),
    );
  }
  const txMs: number[] = [];
  for (let tick = 1; tick <= TICKS; tick++) {
    const started = Date.now();
    for (const v of videos) {
      const startWall = wallNow();
      const at = new Date(startWall);
      const t0 = performance.now();
      await db.transaction().execute(async (tx) => {
        await tx
          .updateTable('video_analysis')
          .set({ overall_progress: tick, step_progress: tick, updated_at: at })
          .where('video_id', '=', v.videoId)
          .execute();
        const p = projects.get(v.videoId)!;
        await publishVideoEvent(tx, {
          videoId: v.videoId,
          userId: v.userId,
          projectId: p.project_id,
          sessionId: p.session_id,
          status: 'processing',
          step: 'normalize',
          progress: tick,
          error: null,
          updatedAt: at.toISOString(),
        });
      });
      txMs.push(performance.now() - t0);
      console.log(`C ${v.videoId} ${tick} ${startWall.toFixed(3)} ${wallNow().toFixed(3)}`);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, TICK_MS - (Date.now() - started))));
  }
  console.log(`TX ${JSON.stringify({ p50: pct(txMs, 50), p99: pct(txMs, 99) })}`);
  await close();
}

if (process.argv[1] === THIS && process.argv[2] === 'producer') await producer();
if (process.argv[1] === THIS && process.argv[2] === 'clients') await clientsMain();
