import { execFile } from 'node:child_process';
import { randomFill } from 'node:crypto';
import { copyFile, mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { rssOf, type ServerProcess, sampleRss, startServer } from './lib/child.ts';
import { MiB, printTable, section } from './lib/table.ts';
import { jsonRequest, tusUpload, type UploadTarget } from './lib/tus-client.ts';

/**
 * Upload throughput: Clipdock's tus endpoint beside a bare pipeline(req, createWriteStream) sink
 * and a bare @tus/server + FileStore, each in its own process, all driven by the same lean
 * client, interleaved (rep by rep, mode by mode) so background load hits all three alike.
 *
 * Env: BENCH_UPLOAD_MIB (file size, default 1024), BENCH_REPEATS (default 3; the best run counts),
 * BENCH_CPU_PROF=1 (Clipdock writes a V8 CPU profile to bench/.data/profiles/ when it stops; kept),
 * BENCH_SERVERS=sink,tus,clipdock (a subset, for profiling; ratios need all three),
 * BENCH_MODES=chunked,single,concurrent (a subset),
 * BENCH_NODE_ARGS="--flag ..." (node options for ALL three server processes alike, to try V8/GC
 * flags fairly; default: the options `npm start` gives `node src/main.ts` in package.json, so
 * Clipdock runs as in production and the baselines get the same flags),
 * BENCH_MEM_TRACE=1 (every server also loads bench/lib/mem-probe.ts and the bench prints where its
 * memory grew: process.memoryUsage() peaks above idle and GC counts; with BENCH_HEAP_PROF=1 also
 * an allocation profile of each, garbage included, kept in bench/.data/profiles/).
 */
const SIZE = Number(process.env.BENCH_UPLOAD_MIB ?? 1024) * MiB;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const CHUNK = 10 * MiB;
const CONCURRENCY = 8;

const ROOT = new URL('..', import.meta.url).pathname;

/** The node options of package.json's start script (`... node <options> src/main.ts`). */
async function startScriptNodeArgs(): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts?: { start?: string };
  };
  return /\bnode((?:\s+--\S+)*)\s+src\/main\.ts/.exec(pkg.scripts?.start ?? '')?.[1]?.trim() ?? '';
}
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? (await startScriptNodeArgs())).split(/\s+/).filter(Boolean);
const DATA = path.join(ROOT, 'bench', '.data');
const PROFILE_DIR = path.join(DATA, 'profiles');
const MEM_TRACE = process.env.BENCH_MEM_TRACE === '1';
const PROBE = new URL('./lib/mem-probe.ts', import.meta.url).href;

/** Node options and environment that load the memory probe into a server (BENCH_MEM_TRACE=1). */
function probeOptions(file: string): { nodeArgs: string[]; env: Record<string, string> } {
  return MEM_TRACE
    ? { nodeArgs: ['--import', PROBE], env: { BENCH_MEM_TRACE: file } }
    : { nodeArgs: [], env: {} };
}

interface Mode {
  key: 'chunked' | 'single' | 'concurrent';
  label: string;
  chunk: number;
  uploads: number;
}
const wanted = (name: string) => (process.env.BENCH_SERVERS ?? 'sink,tus,clipdock').split(',').includes(name);
const ALL_MODES: Mode[] = [
  { key: 'chunked', label: '10 MiB chunks', chunk: CHUNK, uploads: 1 },
  { key: 'single', label: 'one PATCH', chunk: Number.POSITIVE_INFINITY, uploads: 1 },
  {
    key: 'concurrent',
    label: `${CONCURRENCY}× concurrent, 10 MiB chunks`,
    chunk: CHUNK,
    uploads: CONCURRENCY,
  },
];
const MODES = ALL_MODES.filter((m) =>
  (process.env.BENCH_MODES ?? 'chunked,single,concurrent').split(',').includes(m.key),
);

/** One server under test: how to start it, where to upload, how to free its disk between runs. */
interface Subject {
  name: string;
  server: ServerProcess;
  /** Where the memory probe writes its summary (BENCH_MEM_TRACE=1). */
  probeFile: string;
  targets(count: number, size: number): Promise<UploadTarget[]>;
  clear(): Promise<void>;
}

async function emptyDir(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    await rm(path.join(dir, entry), { recursive: true, force: true });
  }
}

async function bareSubject(name: string, script: string, dir: string): Promise<Subject> {
  const probeFile = `${dir}.mem.json`;
  const probe = probeOptions(probeFile);
  const server = await startServer({
    name,
    script: path.join(ROOT, 'bench', 'servers', script),
    args: [dir],
    nodeArgs: [...NODE_ARGS, ...probe.nodeArgs],
    env: probe.env,
    ready: /LISTENING (\d+)/,
  });
  return {
    name,
    server,
    probeFile,
    targets: async (count) => Array.from({ length: count }, () => ({ endpoint: `${server.url}/files` })),
    clear: () => emptyDir(dir),
  };
}

/** A real Clipdock node (`node src/main.ts`, embedded PostgreSQL, local-disk storage). */
async function clipdockSubject(dataDir: string): Promise<Subject> {
  const probeFile = `${dataDir}.mem.json`;
  const probe = probeOptions(probeFile);
  const env: Record<string, string> = {
    ...probe.env,
    PORT: '0',
    HOST: '127.0.0.1',
    CLIPDOCK_DATA_DIR: dataDir,
    // The API alone: the worker would start probing the (random) uploads mid-measurement.
    CLIPDOCK_ROLE: 'api',
    LOG_LEVEL: 'warn',
    STARTING_CREDITS: '1000000',
    STORAGE_QUOTA_BYTES: String(1024 ** 4),
    MAX_FILES_PER_SESSION: String(CONCURRENCY),
    DATABASE_URL: '',
    STORAGE_DRIVER: 'fs',
  };
  const server = await startServer({
    name: 'Clipdock',
    script: path.join(ROOT, 'src', 'main.ts'),
    cwd: ROOT,
    env,
    nodeArgs: [
      ...NODE_ARGS,
      ...probe.nodeArgs,
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
    ],
    ready: /Clipdock is ready: https?:\/\/[^\s:]+:(\d+)/,
    timeoutMs: 180_000,
  });
  const signup = await jsonRequest<{ token: string }>('POST', `${server.url}/api/auth/signup`, {
    email: `bench-${Date.now()}@example.com`,
    password: 'bench password 123',
  });
  if (signup.status !== 201) throw new Error(`Clipdock signup failed: ${signup.status}`);
  const auth = { authorization: `Bearer ${signup.json.token}` };
  return {
    name: 'Clipdock',
    server,
    probeFile,
    async targets(count, size) {
      const res = await jsonRequest<{
        files: Array<{ upload: { endpoint: string; metadata: Record<string, string> } }>;
      }>(
        'POST',
        `${server.url}/api/upload-sessions`,
        {
          files: Array.from({ length: count }, (_, i) => ({
            name: `bench-${i}.mp4`,
            size,
            type: 'video/mp4',
          })),
        },
        auth,
      );
      if (res.status !== 201)
        throw new Error(`upload session refused: ${res.status} ${JSON.stringify(res.json)}`);
      return res.json.files.map((f) => ({
        endpoint: f.upload.endpoint,
        metadata: f.upload.metadata,
        headers: auth,
      }));
    },
    // Finished uploads are renamed into storage; the database rows stay (they are tiny).
    clear: () => emptyDir(path.join(dataDir, 'storage', 'videos')),
  };
}

/** An input the content sniffer accepts: an MP4 `ftyp` box, then random bytes. */
async function makeInput(file: string): Promise<void> {
  const fh = await open(file, 'w');
  try {
    const ftyp = Buffer.alloc(24);
    ftyp.writeUInt32BE(24, 0);
    ftyp.write('ftypisom', 4, 'latin1');
    ftyp.writeUInt32BE(0x200, 12);
    ftyp.write('isommp41', 16, 'latin1');
    await fh.write(ftyp);
    const buf = Buffer.alloc(8 * MiB);
    for (let written = ftyp.length; written < SIZE; ) {
      const n = Math.min(buf.length, SIZE - written);
      await promisify(randomFill)(buf);
      await fh.write(buf, 0, n);
      written += n;
    }
  } finally {
    await fh.close();
  }
}

/** Dirty + Writeback of the page cache, in bytes (/proc/meminfo). */
async function unwrittenBytes(): Promise<number> {
  const info = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  let kib = 0;
  for (const m of info.matchAll(/^(?:Dirty|Writeback):\s+(\d+) kB/gm)) kib += Number(m[1]);
  return kib * 1024;
}

/**
 * Waits until the disk has caught up with what the previous measurement wrote. Otherwise the
 * server measured next (always the same one, in the same order) starts with gigabytes still
 * being written back and is throttled by the kernel sooner: 8 × 1 GiB is past the default dirty
 * limits on most machines.
 */
async function settleDisk(): Promise<void> {
  await promisify(execFile)('sync').catch(() => {});
  for (let i = 0; i < 600 && (await unwrittenBytes()) > 64 * MiB; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function measure(subject: Subject, input: string, mode: Mode): Promise<number> {
  await settleDisk();
  const targets = await subject.targets(mode.uploads, SIZE);
  const t0 = performance.now();
  await Promise.all(targets.map((t) => tusUpload(t, input, SIZE, mode.chunk)));
  const seconds = (performance.now() - t0) / 1000;
  await subject.clear();
  return (mode.uploads * SIZE) / MiB / seconds;
}

/**
 * Fixed cost per PATCH, separated from the byte path: 16 MiB in 64 KiB PATCHes, milliseconds
 * per request. What a 10 MiB chunk pays on top of moving its bytes.
 */
const PROBE_SIZE = 16 * MiB;
const PROBE_CHUNK = 64 * 1024;
async function perPatchMs(subject: Subject, input: string): Promise<number> {
  const [target] = await subject.targets(1, PROBE_SIZE);
  const t0 = performance.now();
  await tusUpload(target!, input, PROBE_SIZE, PROBE_CHUNK);
  const ms = performance.now() - t0;
  await subject.clear();
  return ms / (PROBE_SIZE / PROBE_CHUNK);
}

const verdictOf = (r: number, target: number | undefined) =>
  target === undefined ? '' : r >= target ? 'met' : 'MISSED';

/** Stops the servers (the probe reports on SIGTERM) and prints where each one's memory grew. */
async function printMemory(subjects: Subject[]): Promise<void> {
  const rows: string[][] = [];
  for (const s of subjects) {
    await s.server.stop();
    const heapProfile = `${s.probeFile}.heapprofile`;
    if (process.env.BENCH_HEAP_PROF === '1') {
      await mkdir(PROFILE_DIR, { recursive: true });
      const kept = path.join(PROFILE_DIR, `${s.name.replace(/\W+/g, '-')}-${Date.now()}.heapprofile`);
      await copyFile(heapProfile, kept).then(
        () => console.log(`allocation profile of ${s.name}: ${kept}`),
        () => {},
      );
    }
    const m = JSON.parse(await readFile(s.probeFile, 'utf8').catch(() => '{}')) as Record<string, number> & {
      gc?: Record<string, number>;
    };
    rows.push([
      s.name,
      ...['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'].map((f) => fmt(m[`${f}PeakGrowth`])),
      `${m.gc?.minor ?? '–'} / ${m.gc?.major ?? '–'} / ${m.gc?.incremental ?? '–'}`,
      fmt(m.gc?.ms),
    ]);
  }
  console.log('\nMemory (process.memoryUsage() every 20 ms: peak above idle, MiB; V8 GCs)\n');
  printTable(
    [
      'server',
      'rss',
      'heapTotal',
      'heapUsed',
      'external',
      'arrayBuffers',
      'GCs minor / major / incr.',
      'GC ms',
    ],
    rows,
  );
}

const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '–' : n.toFixed(digits));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export async function run(): Promise<void> {
  section(`Uploads: ${SIZE / MiB} MiB per file, best of ${REPEATS}`);
  console.log(`node options of every server process: ${NODE_ARGS.join(' ') || '(none)'}`);
  const runDir = path.join(DATA, `uploads-${process.pid}-${Date.now()}`);
  await mkdir(runDir, { recursive: true });
  const subjects: Subject[] = [];
  const cleanup = async () => {
    for (const s of subjects) await s.server.stop().catch(() => {});
    await rm(runDir, { recursive: true, force: true });
  };
  const onSignal = () => {
    cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const input = path.join(runDir, 'input.mp4');
    console.log(`generating ${SIZE / MiB} MiB input ...`);
    await makeInput(input);

    if (wanted('sink')) {
      subjects.push(await bareSubject('bare sink', 'bare-sink.ts', path.join(runDir, 'sink')));
    }
    if (wanted('tus')) {
      subjects.push(await bareSubject('bare @tus/server', 'bare-tus.ts', path.join(runDir, 'tus')));
    }
    if (wanted('clipdock')) {
      console.log('starting Clipdock (embedded PostgreSQL) ...');
      subjects.push(await clipdockSubject(path.join(runDir, 'clipdock')));
    }

    const before = new Map<Subject, number>();
    const samplers = new Map<Subject, ReturnType<typeof sampleRss>>();
    for (const s of subjects) {
      if (MEM_TRACE) process.kill(s.server.pid, 'SIGUSR2');
      before.set(s, await rssOf(s.server.pid));
      samplers.set(s, sampleRss(s.server.pid));
    }

    const results = new Map<string, number[]>();
    const key = (s: Subject, m: Mode) => `${s.name}/${m.key}`;
    for (let rep = 1; rep <= REPEATS; rep++) {
      for (const mode of MODES) {
        for (const s of subjects) {
          const mibs = await measure(s, input, mode);
          results.set(key(s, mode), [...(results.get(key(s, mode)) ?? []), mibs]);
          console.log(
            `  run ${rep}/${REPEATS}  ${mode.label.padEnd(28)} ${s.name.padEnd(18)} ${fmt(mibs)} MiB/s`,
          );
        }
      }
    }
    const patchMs = new Map<Subject, number>();
    for (const s of subjects) patchMs.set(s, await perPatchMs(s, input));
    const peak = new Map<Subject, number>();
    for (const s of subjects) peak.set(s, await samplers.get(s)!.stop());

    const best = (s: Subject, m: Mode) => Math.max(...(results.get(key(s, m)) ?? [Number.NaN]));
    const med = (s: Subject, m: Mode) => median(results.get(key(s, m)) ?? [Number.NaN]);
    console.log('\nThroughput, MiB/s: best (median)\n');
    printTable(
      [
        'server',
        ...MODES.map((m) => m.label),
        'ms per 64 KiB PATCH',
        'RSS idle MiB',
        'RSS peak MiB',
        'RSS growth MiB',
      ],
      subjects.map((s) => [
        s.name,
        ...MODES.map((m) => `${fmt(best(s, m))} (${fmt(med(s, m))})`),
        fmt(patchMs.get(s), 2),
        fmt(before.get(s)! / MiB),
        fmt(peak.get(s)! / MiB),
        fmt((peak.get(s)! - before.get(s)!) / MiB),
      ]),
    );

    if (MEM_TRACE) await printMemory(subjects);

    const find = (name: string) => subjects.find((s) => s.name === name);
    const [sink, tus, clip] = [find('bare sink'), find('bare @tus/server'), find('Clipdock')];
    const has = (k: Mode['key']) => MODES.find((m) => m.key === k);
    const ratioRow = (
      label: string,
      a: Subject | undefined,
      b: Subject | undefined,
      k: Mode['key'],
      target?: number,
    ): string[][] => {
      const m = has(k);
      if (!a || !b || !m) return [];
      const r = best(a, m) / best(b, m);
      return [
        [label, fmt(r, 2), target === undefined ? '–' : `≥ ${target.toFixed(2)}`, verdictOf(r, target)],
      ];
    };
    const growth = (s: Subject) => (peak.get(s)! - before.get(s)!) / MiB;
    // Issue 13's two goals first, side by side, from this one run.
    const goals = [
      ...(clip
        ? [['Clipdock RSS growth (MiB)', fmt(growth(clip)), '≤ 64', growth(clip) <= 64 ? 'met' : 'MISSED']]
        : []),
      ...ratioRow('Clipdock / bare @tus/server, 8× concurrent', clip, tus, 'concurrent', 1),
    ];
    const rest = [
      ...ratioRow('Clipdock / bare sink, 10 MiB chunks', clip, sink, 'chunked', 0.8),
      ...ratioRow('Clipdock / bare sink, one PATCH', clip, sink, 'single', 0.9),
      ...ratioRow('Clipdock / bare sink, 8× concurrent', clip, sink, 'concurrent'),
      ...ratioRow('Clipdock / bare @tus/server, 10 MiB chunks', clip, tus, 'chunked'),
      ...ratioRow('Clipdock / bare @tus/server, one PATCH', clip, tus, 'single'),
      ...ratioRow('bare tus / bare sink, 8× concurrent', tus, sink, 'concurrent'),
    ];
    if (goals.length + rest.length === 0) return;
    console.log('\nRatios (best against best; the first two are the goals of issue 13)\n');
    printTable(['ratio', 'value', 'target', ''], [...goals, ...rest]);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}
