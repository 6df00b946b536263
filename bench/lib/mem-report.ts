import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { printTable } from './table.ts';
import type { Subject } from './upload-subjects.ts';

const fmt = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(0));

/** Stops the servers (the probe reports on SIGTERM) and prints where each one's memory grew. */
export async function printMemory(subjects: Subject[], profileDir: string): Promise<void> {
  const rows: string[][] = [];
  for (const s of subjects) {
    await s.server.stop();
    const heapProfile = `${s.probeFile}.heapprofile`;
    if (process.env.BENCH_HEAP_PROF === '1') {
      await mkdir(profileDir, { recursive: true });
      const kept = path.join(profileDir, `${s.name.replace(/\W+/g, '-')}-${Date.now()}.heapprofile`);
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
