import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { constants, PerformanceObserver } from 'node:perf_hooks';

/**
 * Loaded into a server under test with `node --import <this file>` when BENCH_MEM_TRACE names a
 * file: samples process.memoryUsage() every 20 ms and counts GCs, and when the process gets
 * SIGTERM writes the peak of each figure (MiB, above the first sample) and the GC counts to that
 * file as JSON. With BENCH_HEAP_PROF=1 it also samples every allocation (garbage included) and
 * writes a heap profile beside it (`<file>.heapprofile`, for Chrome DevTools). SIGUSR2 restarts the measurement (the bench sends it once the server is ready). A measurement aid only: it changes nothing the server does.
 */
const out = process.env.BENCH_MEM_TRACE;
if (out) {
  const MiB = 1024 * 1024;
  const fields = ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'] as const;
  let first = process.memoryUsage();
  const peak: Record<string, number> = {};
  const reset = () => {
    first = process.memoryUsage();
    for (const f of fields) peak[f] = first[f];
    Object.assign(gc, { minor: 0, major: 0, incremental: 0, ms: 0 });
  };
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    for (const f of fields) peak[f] = Math.max(peak[f]!, m[f]);
  }, 20);
  timer.unref();
  const gc = { minor: 0, major: 0, incremental: 0, ms: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.major++;
      else if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) gc.incremental++;
      gc.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const heapProf = process.env.BENCH_HEAP_PROF === '1' ? new Session() : undefined;
  heapProf?.connect();
  const startHeapProf = () => {
    heapProf?.post('HeapProfiler.stopSampling', () => {
      heapProf.post('HeapProfiler.startSampling', {
        samplingInterval: 16384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    });
  };
  reset();
  startHeapProf();
  // The bench sends SIGUSR2 once the server is up: growth counts from there.
  process.on('SIGUSR2', () => {
    reset();
    startHeapProf();
  });
  process.prependListener('SIGTERM', () => {
    const summary: Record<string, number> = {};
    for (const f of fields) {
      summary[`${f}Idle`] = Math.round(first[f] / MiB);
      summary[`${f}PeakGrowth`] = Math.round((peak[f]! - first[f]) / MiB);
    }
    writeFileSync(out, JSON.stringify({ ...summary, gc: { ...gc, ms: Math.round(gc.ms) } }));
    heapProf?.post('HeapProfiler.stopSampling', (err, res) => {
      if (!err) writeFileSync(`${out}.heapprofile`, JSON.stringify(res.profile));
    });
  });
}
