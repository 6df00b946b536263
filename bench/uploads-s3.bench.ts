import { execFile } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startS3rver, type TestS3 } from '../test/helpers/s3rver.ts';
import { rssOf, sampleRss } from './lib/child.ts';
import { makeInput } from './lib/disk.ts';
import { printMemory } from './lib/mem-report.ts';
import { bareMultipartUpload, bareS3Client, emptyBucket } from './lib/s3-bare.ts';
import { MiB, printTable, section } from './lib/table.ts';
import { tusUpload } from './lib/tus-client.ts';
import { clipdockSubject, MEM_TRACE, type Subject } from './lib/upload-subjects.ts';

/**
 * `npm run bench -- uploads-s3`: Clipdock with STORAGE_DRIVER=s3 (CLIPDOCK_ROLE=api, its own
 * process, embedded PostgreSQL) against s3rver on loopback in the bench's process (the tests'
 * s3rver, with its AbortMultipartUpload patch), fed by the lean tus client in 10 MiB PATCHes,
 * beside a bare multipart upload of the same file straight to the same s3rver with
 * @aws-sdk/client-s3 (parts of S3_UPLOAD_PART_MIB, one after another per upload, the same number
 * of uploads at once). 1 upload, then 8 at once; interleaved rep by rep, the order alternating.
 *
 * Env: BENCH_UPLOAD_MIB (file size, default 1024), BENCH_REPEATS (default 3; the best counts),
 * S3_UPLOAD_PART_MIB (part size of both, default 8, Clipdock's default),
 * BENCH_S3_CHUNK_MIB (tus PATCH size, default 10), BENCH_NODE_ARGS (Clipdock's node options;
 * default those of `npm start`), BENCH_MEM_TRACE=1 (where Clipdock's memory grew, as in uploads.ts).
 * The bare upload runs in the bench's process, beside s3rver; Clipdock's RSS is read from /proc.
 */
const SIZE = Number(process.env.BENCH_UPLOAD_MIB ?? 1024) * MiB;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const PART = Number(process.env.S3_UPLOAD_PART_MIB ?? 8) * MiB;
const CHUNK = Number(process.env.BENCH_S3_CHUNK_MIB ?? 10) * MiB;
const CONCURRENCY = 8;
const ROOT = new URL('..', import.meta.url).pathname;
const DATA = path.join(ROOT, 'bench', '.data');

async function startScriptNodeArgs(): Promise<string> {
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts?: { start?: string };
  };
  return /\bnode((?:\s+--\S+)*)\s+src\/main\.ts/.exec(pkg.scripts?.start ?? '')?.[1]?.trim() ?? '';
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

interface Runner {
  name: string;
  /** Uploads `count` copies of the input at once; resolves when all are complete in the bucket. */
  upload(count: number): Promise<void>;
  clear(): Promise<void>;
}

function clipdockRunner(subject: Subject, input: string): Runner {
  return {
    name: subject.name,
    async upload(count) {
      const targets = await subject.targets(count, SIZE);
      await Promise.all(targets.map((t) => tusUpload(t, input, SIZE, CHUNK)));
    },
    clear: () => subject.clear(),
  };
}

function bareRunner(s3: TestS3, input: string): Runner {
  const client = bareS3Client(s3.config);
  let n = 0;
  return {
    name: 'bare multipart',
    async upload(count) {
      const keys = Array.from({ length: count }, () => `bare/${process.pid}-${n++}`);
      await Promise.all(keys.map((k) => bareMultipartUpload(client, s3.config.bucket, k, input, SIZE, PART)));
    },
    clear: () => emptyBucket(client, s3.config.bucket),
  };
}

export async function run(): Promise<void> {
  section(
    `Uploads to S3 (s3rver on loopback): ${SIZE / MiB} MiB per file, ${PART / MiB} MiB parts, best of ${REPEATS}`,
  );
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? (await startScriptNodeArgs()))
    .split(/\s+/)
    .filter(Boolean);
  const commit = await promisify(execFile)('git', ['describe', '--always', '--dirty'], { cwd: ROOT }).then(
    (r) => r.stdout.trim(),
    () => 'unknown',
  );
  console.log(`commit ${commit}, ${new Date().toISOString()}, load average (1/5/15 min) ${load()}`);
  console.log(
    `Clipdock's node options: ${nodeArgs.join(' ') || '(none)'}; tus PATCHes of ${CHUNK / MiB} MiB`,
  );
  const runDir = path.join(DATA, `uploads-s3-${process.pid}-${Date.now()}`);
  await mkdir(runDir, { recursive: true });
  let s3: TestS3 | undefined;
  let clip: Subject | undefined;
  const cleanup = async () => {
    await clip?.server.stop().catch(() => {});
    await s3?.close().catch(() => {});
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
    s3 = await startS3rver();
    const bare = bareRunner(s3, input);
    console.log('starting Clipdock (STORAGE_DRIVER=s3, embedded PostgreSQL) ...');
    clip = await clipdockSubject(
      path.join(runDir, 'clipdock'),
      { nodeArgs, profileDir: path.join(DATA, 'profiles'), maxFiles: CONCURRENCY },
      {
        name: 'Clipdock (S3)',
        env: {
          STORAGE_DRIVER: 's3',
          S3_BUCKET: s3.config.bucket,
          S3_REGION: s3.config.region,
          S3_ENDPOINT: s3.config.endpoint!,
          S3_ACCESS_KEY_ID: s3.config.accessKeyId,
          S3_SECRET_ACCESS_KEY: s3.config.secretAccessKey,
          S3_FORCE_PATH_STYLE: 'true',
          S3_UPLOAD_PART_MIB: String(PART / MiB),
        },
        clear: () => bare.clear(),
      },
    );
    const clipdock = clipdockRunner(clip, input);
    if (MEM_TRACE) process.kill(clip.server.pid, 'SIGUSR2');
    const idle = await rssOf(clip.server.pid);
    const sampler = sampleRss(clip.server.pid);

    const modes = [
      { label: '1 upload', count: 1 },
      { label: `${CONCURRENCY}× concurrent`, count: CONCURRENCY },
    ];
    const runners = [clipdock, bare];
    const results = new Map<string, number[]>();
    for (let rep = 1; rep <= REPEATS; rep++) {
      const order = rep % 2 ? runners : [...runners].reverse();
      for (const mode of modes) {
        for (const r of order) {
          const t0 = performance.now();
          await r.upload(mode.count);
          const mibs = (mode.count * SIZE) / MiB / ((performance.now() - t0) / 1000);
          await r.clear();
          const key = `${r.name}/${mode.label}`;
          results.set(key, [...(results.get(key) ?? []), mibs]);
          console.log(
            `  run ${rep}/${REPEATS}  ${mode.label.padEnd(16)} ${r.name.padEnd(16)} ${fmt(mibs)} MiB/s`,
          );
        }
      }
    }
    console.log(`load average (1/5/15 min) at the end of the runs: ${load()}`);
    const peak = await sampler.stop();
    const best = (r: Runner, label: string) =>
      Math.max(...(results.get(`${r.name}/${label}`) ?? [Number.NaN]));
    const med = (r: Runner, label: string) => median(results.get(`${r.name}/${label}`) ?? [Number.NaN]);

    console.log('\nThroughput to S3, MiB/s: best (median)\n');
    printTable(
      ['uploader', ...modes.map((m) => m.label), 'RSS idle MiB', 'RSS peak MiB', 'RSS growth MiB'],
      [
        [
          clipdock.name,
          ...modes.map((m) => `${fmt(best(clipdock, m.label))} (${fmt(med(clipdock, m.label))})`),
          fmt(idle / MiB),
          fmt(peak / MiB),
          fmt((peak - idle) / MiB),
        ],
        [
          bare.name,
          ...modes.map((m) => `${fmt(best(bare, m.label))} (${fmt(med(bare, m.label))})`),
          '–',
          '–',
          '–',
        ],
      ],
    );
    if (MEM_TRACE) await printMemory([clip], path.join(DATA, 'profiles'));
    console.log('\nRatios (best against best)\n');
    printTable(
      ['ratio', 'value'],
      modes.map((m) => [
        `Clipdock (S3) / bare multipart, ${m.label}`,
        fmt(best(clipdock, m.label) / best(bare, m.label), 2),
      ]),
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}
