import { execFile, spawn } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../src/config.ts';
import { reserveForVideos } from '../src/credits/ledger.ts';
import { enqueue, processJobKey } from '../src/jobs/queue.ts';
import { resolveBinaries } from '../src/media/ffmpeg.ts';
import { createMediaTools, type MediaTools } from '../src/media/media-tools.ts';
import { processVideo, WORK_DIR } from '../src/processing/runner.ts';
import { normalizeJob } from '../src/processing/steps/normalize.ts';
import type { MediaInfo } from '../src/processing/types.ts';
import { type Clipdock, startClipdock } from '../src/server.ts';
import { keys } from '../src/storage/object-store.ts';
import { NODE, rssOf, sampleRss } from './lib/child.ts';
import { benchPlayable } from './lib/playable.ts';
import { MiB, printTable, section } from './lib/table.ts';

/**
 * Processing benchmarks: (1) remux vs full transcode of the same 1080p H.264 MOV, (2) the whole
 * pipeline vs the sum of the bare ffmpeg commands it runs (replayed one after another, without
 * Node, database or storage around them), (3) the Node RSS of the process running the pipeline
 * on a 1 GiB input (ffmpeg's own memory is not counted: it is a separate process), (4) upload end
 * to playable and to analysed for 5- and 30-minute 720p MP4s (bench/lib/playable.ts;
 * BENCH_PLAYABLE_ONLY=1 runs only that part, after (1)).
 */
const ROOT = new URL('..', import.meta.url).pathname;
const DATA = path.join(ROOT, 'bench/.data/processing');
const bins = resolveBinaries({ ffmpegPath: process.env.FFMPEG_PATH, ffprobePath: process.env.FFPROBE_PATH });
const threads = availableParallelism();
const sh = promisify(execFile);

async function gen(args: string[]): Promise<void> {
  await sh(bins.ffmpeg, ['-hide_banner', '-v', 'error', '-y', ...args], { maxBuffer: 1024 * 1024 });
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

async function probeFile(tools: MediaTools, file: string): Promise<MediaInfo> {
  const { open } = await import('node:fs/promises');
  return tools.probe(
    {
      location: file,
      sizeBytes: (await stat(file)).size,
      readBytes: async (s, e) => {
        const h = await open(file);
        try {
          const b = Buffer.alloc(e - s + 1);
          const { bytesRead } = await h.read(b, 0, b.length, s);
          return b.subarray(0, bytesRead);
        } finally {
          await h.close();
        }
      },
    },
    AbortSignal.timeout(600_000),
  );
}

/** A user and an `uploaded` video with its reservation, as the upload path leaves them. */
async function uploadedVideo(node: Clipdock, file: string): Promise<string> {
  const { ctx } = node;
  const email = `bench-${Date.now()}-${Math.random().toString(36).slice(2)}@example.com`;
  const res = await fetch(`${node.url}/api/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'correct horse battery' }),
  });
  const { user } = (await res.json()) as { user: { id: string } };
  const size = (await stat(file)).size;
  const id = await ctx.db.transaction().execute(async (tx) => {
    const p = await tx
      .selectFrom('projects')
      .select('id')
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow();
    const v = await tx
      .insertInto('videos')
      .values({
        user_id: user.id,
        project_id: p.id,
        name: path.basename(file),
        status: 'uploaded',
        declared_size: size,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await tx
      .updateTable('videos')
      .set({ storage_key: keys.original(v.id) })
      .where('id', '=', v.id)
      .execute();
    await reserveForVideos(tx, user.id, [v.id], 10);
    return v.id;
  });
  await ctx.store.putFile(keys.original(id), file);
  return id;
}

function replay(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // Same plumbing as the pipeline: progress on fd 3 and stdout are read (and dropped).
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'ignore', 'pipe'] });
    child.stdout?.resume();
    (child.stdio[3] as NodeJS.ReadableStream | null)?.resume();
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`replay exited ${code}: ${args.join(' ')}`)),
    );
  });
}

export async function run(): Promise<void> {
  section('Processing');
  await rm(DATA, { recursive: true, force: true });
  await mkdir(DATA, { recursive: true });
  const tools = createMediaTools({
    media: { ffmpegPath: undefined, ffprobePath: undefined },
    threads,
    limits: { maxDurationSeconds: 6 * 3600, maxDimension: 8192 },
  });

  // (1) Remux vs transcode.
  const mov = path.join(DATA, 'phone-1080p.mov');
  await gen([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=1920x1080:rate=30:duration=20',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000:duration=20',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-crf',
    '20',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    '-shortest',
    mov,
  ]);
  const info = await probeFile(tools, mov);
  const remux = await timed(() =>
    tools.ffmpeg(
      normalizeJob(
        info,
        'remux',
        { location: mov, demuxer: info.demuxer! },
        path.join(DATA, 'remux.mp4'),
        threads,
      ),
      {
        signal: AbortSignal.timeout(600_000),
      },
    ),
  );
  const transcode = await timed(() =>
    tools.ffmpeg(
      normalizeJob(
        info,
        'transcode',
        { location: mov, demuxer: info.demuxer! },
        path.join(DATA, 'transcode.mp4'),
        threads,
      ),
      {
        signal: AbortSignal.timeout(600_000),
      },
    ),
  );
  const ratio = transcode.ms / remux.ms;
  console.log(
    `Input: 20 s 1080p30 H.264/AAC MOV, ${((await stat(mov)).size / MiB).toFixed(1)} MiB; ffmpeg threads ${threads}.\n`,
  );
  printTable(
    ['normalize route', 'wall time', 'vs remux'],
    [
      ['remux (-c copy)', `${remux.ms.toFixed(0)} ms`, '1×'],
      ['full transcode (libx264 veryfast)', `${transcode.ms.toFixed(0)} ms`, `${ratio.toFixed(1)}×`],
    ],
  );
  console.log(`\nRemux is ${ratio.toFixed(1)}× faster than a transcode (goal ≥ 20×).`);

  // A node for (2) and (3): API only (no queue worker), so the bench runs the pipeline itself.
  const config = loadConfig({
    CLIPDOCK_ROLE: 'api',
    PORT: '0',
    HOST: '127.0.0.1',
    CLIPDOCK_DATA_DIR: path.join(DATA, 'node'),
    LOG_LEVEL: 'warn',
    DATABASE_URL: process.env.BENCH_DATABASE_URL,
    FFMPEG_THREADS: String(threads),
  });
  const node = await startClipdock(config, pino({ level: 'warn' }));
  try {
    // (4, issue 10) Upload end → playable and → analysed, beside a bare remux and decode.
    await benchPlayable({
      ctx: node.ctx,
      uploaded: (f) => uploadedVideo(node, f),
      ffmpegPath: bins.ffmpeg,
      dataDir: DATA,
    });
    if (process.env.BENCH_PLAYABLE_ONLY) return;
    // (2) Pipeline vs its bare ffmpeg commands, on a clip that needs a transcode.
    const prores = path.join(DATA, 'prores-720p.mov');
    await gen([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=1280x720:rate=30:duration=20',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=48000:duration=20',
      '-c:v',
      'prores_ks',
      '-profile:v',
      '0',
      '-c:a',
      'pcm_s16le',
      '-shortest',
      prores,
    ]);
    const commands: Array<{ bin: string; args: string[]; ms: number }> = [];
    const recording = createMediaTools({
      media: config.media,
      threads,
      limits: { maxDurationSeconds: 6 * 3600, maxDimension: 8192 },
      onCommand: (c) => commands.push(c),
    });
    const videoId = await uploadedVideo(node, prores);
    const pipeline = await timed(() =>
      processVideo(node.ctx, videoId, { signal: AbortSignal.timeout(1_800_000), media: recording }),
    );
    if (pipeline.value !== 'ready') throw new Error(`bench pipeline ended ${pipeline.value}`);
    let bare = 0;
    for (const c of commands) {
      // Recreate the temp dirs the steps wrote into (they were removed after each step).
      for (const a of c.args) if (a.startsWith(WORK_DIR)) await mkdir(path.dirname(a), { recursive: true });
      bare += (await timed(() => replay(c.bin, c.args))).ms;
    }
    const overhead = pipeline.ms / bare;
    console.log(`\nInput: 20 s 720p30 ProRes/PCM MOV (transcoded). ${commands.length} ffmpeg commands.\n`);
    printTable(
      ['run', 'wall time'],
      [
        ['whole pipeline (probe → transcribe, DB, storage, progress)', `${pipeline.ms.toFixed(0)} ms`],
        ['sum of the same ffmpeg commands, bare', `${bare.toFixed(0)} ms`],
        ['ratio', `${overhead.toFixed(2)}×`],
      ],
    );
    console.log(`\nPipeline / bare ffmpeg = ${overhead.toFixed(2)}× (goal ≤ 1.3×).`);

    // (3) Node RSS on a 1 GiB input (remux route; analysis decodes every frame).
    const big = path.join(DATA, 'big-1gib.mov');
    await gen([
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=1920x1080:rate=30,noise=alls=60:allf=t',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=48000',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-qp',
      '0',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-fs',
      String(1024 * MiB),
      big,
    ]);
    const bigSize = (await stat(big)).size;
    const bigId = await uploadedVideo(node, big);
    // A worker-only node (`CLIPDOCK_ROLE=worker`, as on a worker machine) on the same database and
    // storage; its RSS is read from /proc while it processes the file.
    const worker = spawn(NODE, [path.join(ROOT, 'src/main.ts')], {
      env: {
        ...process.env,
        CLIPDOCK_ROLE: 'worker',
        DATABASE_URL: node.ctx.databaseUrl,
        CLIPDOCK_DATA_DIR: config.dataDir,
        WORKER_CONCURRENCY: '1',
        FFMPEG_THREADS: String(threads),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        worker.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('worker is running')) resolve();
        });
        worker.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
      });
      worker.stdout!.resume();
      const idle = await rssOf(worker.pid!);
      const sampler = sampleRss(worker.pid!, 50);
      const t0 = performance.now();
      await enqueue(node.ctx.db, 'process_video', { videoId: bigId }, { jobKey: processJobKey(bigId) });
      for (;;) {
        const v = await node.ctx.db
          .selectFrom('videos')
          .select('status')
          .where('id', '=', bigId)
          .executeTakeFirstOrThrow();
        if (v.status === 'ready' || v.status === 'failed') {
          if (v.status === 'failed') throw new Error('bench 1 GiB pipeline failed');
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      const seconds = (performance.now() - t0) / 1000;
      const peak = await sampler.stop();
      console.log(
        `\nInput: ${(bigSize / MiB).toFixed(0)} MiB 1080p H.264 (lossless noise) + AAC MOV, remuxed; pipeline ${seconds.toFixed(1)} s in a worker-only process.\n`,
      );
      printTable(
        ['worker Node process RSS (ffmpeg not included)', 'MiB'],
        [
          ['idle, after start-up', (idle / MiB).toFixed(0)],
          ['peak while processing', (peak / MiB).toFixed(0)],
        ],
      );
      console.log(`\nPeak worker Node RSS ${(peak / MiB).toFixed(0)} MiB (goal ≤ 150 MiB).`);
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => (worker.exitCode === null ? worker.once('exit', r) : r(undefined)));
    }
  } finally {
    await node.stop();
    await rm(DATA, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
