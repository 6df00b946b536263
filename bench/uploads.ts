import { execFile } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { rssOf, sampleRss } from './lib/child.ts';
import { makeInput, settleDisk } from './lib/disk.ts';
import { printMemory } from './lib/mem-report.ts';
import { MiB, printTable, section } from './lib/table.ts';
import { tusUpload } from './lib/tus-client.ts';
import { bareSubject, clipdockSubject, MEM_TRACE, type Subject } from './lib/upload-subjects.ts';

/**
 * Upload throughput: Clipdock's tus endpoint beside a bare pipeline(req, createWriteStream) sink
 * and a bare @tus/server + FileStore, each in its own process, all driven by the same lean
 * client, interleaved (rep by rep, mode by mode, the order rotating each rep) so background load
 * hits all three alike.
 *
 * Env: BENCH_UPLOAD_MIB (file size, default 1024), BENCH_REPEATS (default 3; the best run counts),
 * BENCH_CPU_PROF=1 (Clipdock writes a V8 CPU profile to bench/.data/profiles/ when it stops; kept),
 * BENCH_SERVERS=sink,tus,clipdock (a subset, for profiling; a ratio is printed when both of its
 * servers ran),
 * BENCH_MODES=chunked,single,concurrent (a subset),
 * BENCH_NODE_ARGS="--flag ..." (node options for ALL three server processes alike, to try V8/GC
 * flags fairly; default: the options `npm start` gives `node src/main.ts` in package.json, so
 * Clipdock runs as in production and the baselines get the same flags),
 * BENCH_MEM_TRACE=1 (every server also loads bench/lib/mem-probe.ts and the bench prints where its
 * memory grew: process.memoryUsage() peaks above idle and GC counts; with BENCH_HEAP_PROF=1 also
 * an allocation profile of each, garbage included, kept in bench/.data/profiles/).
 * Clipdock sizes libuv's thread pool itself (16, src/threadpool.ts) unless UV_THREADPOOL_SIZE is
 * set; the baselines keep libuv's 4. UV_THREADPOOL_SIZE=16 in the bench's environment gives all
 * three servers the same pool.
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
const startOptions = { nodeArgs: NODE_ARGS, profileDir: PROFILE_DIR, maxFiles: CONCURRENCY };
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

async function measure(subject: Subject, input: string, mode: Mode): Promise<number> {
  await settleDisk();
  const targets = await subject.targets(mode.uploads, SIZE);
  const patches = targets.map(() => [] as number[]);
  const t0 = performance.now();
  await Promise.all(targets.map((t, i) => tusUpload(t, input, SIZE, mode.chunk, patches[i])));
  const seconds = (performance.now() - t0) / 1000;
  await subject.clear();
  if (mode.uploads > 1) {
    // Where the time went: a PATCH's bytes, or the last PATCH's finish (rename, commit).
    const last = patches.map((p) => p.at(-1) ?? 0);
    const others = patches.flatMap((p) => p.slice(0, -1));
    console.log(
      `    ${subject.name}: PATCH median ${fmt(median(others))} ms, last PATCH (with the finish) median ${fmt(median(last))} / max ${fmt(Math.max(...last))} ms`,
    );
  }
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

const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '–' : n.toFixed(digits));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

export async function run(): Promise<void> {
  section(`Uploads: ${SIZE / MiB} MiB per file, best of ${REPEATS}`);
  console.log(`node options of every server process: ${NODE_ARGS.join(' ') || '(none)'}`);
  const commit = await promisify(execFile)('git', ['describe', '--always', '--dirty'], { cwd: ROOT }).then(
    (r) => r.stdout.trim(),
    () => 'unknown',
  );
  const load = () =>
    os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ');
  console.log(`commit ${commit}, ${new Date().toISOString()}, load average (1/5/15 min) ${load()}`);
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
    await makeInput(input, SIZE);

    if (wanted('sink')) {
      subjects.push(await bareSubject('bare sink', 'bare-sink.ts', path.join(runDir, 'sink'), startOptions));
    }
    if (wanted('tus')) {
      subjects.push(
        await bareSubject('bare @tus/server', 'bare-tus.ts', path.join(runDir, 'tus'), startOptions),
      );
    }
    if (wanted('clipdock')) {
      console.log('starting Clipdock (embedded PostgreSQL) ...');
      subjects.push(await clipdockSubject(path.join(runDir, 'clipdock'), startOptions));
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
      // Each repeat starts with the next server, so none is always the one measured last.
      const order = subjects.map((_, i) => subjects[(i + rep - 1) % subjects.length]!);
      for (const mode of MODES) {
        for (const s of order) {
          const mibs = await measure(s, input, mode);
          results.set(key(s, mode), [...(results.get(key(s, mode)) ?? []), mibs]);
          console.log(
            `  run ${rep}/${REPEATS}  ${mode.label.padEnd(28)} ${s.name.padEnd(18)} ${fmt(mibs)} MiB/s`,
          );
        }
      }
    }
    console.log(`load average (1/5/15 min) at the end of the runs: ${load()}`);
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

    if (MEM_TRACE) await printMemory(subjects, PROFILE_DIR);

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
