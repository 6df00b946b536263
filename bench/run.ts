import { readdir } from 'node:fs/promises';

/**
 * `npm run bench`: the upload benchmark, then every `bench/*.bench.ts` module in name order.
 * Each module exports `run(): Promise<void>` and prints its own section. Pass section names
 * (`npm run bench -- uploads`) to run only those.
 */
interface BenchModule {
  run(): Promise<void>;
}

const only = process.argv.slice(2);
const here = new URL('.', import.meta.url);
const extra = (await readdir(here))
  .filter((f) => f.endsWith('.bench.ts'))
  .sort()
  .map((f) => ({ name: f.replace(/\.bench\.ts$/, ''), file: f }));
const sections = [{ name: 'uploads', file: 'uploads.ts' }, ...extra].filter(
  (s) => only.length === 0 || only.includes(s.name),
);

console.log(`# Clipdock benchmarks (${new Date().toISOString()})`);
for (const s of sections) {
  const mod = (await import(new URL(s.file, here).href)) as BenchModule;
  await mod.run();
}

// Keep-alive sockets would hold the process open.
const { agent } = await import('./lib/tus-client.ts');
agent.destroy();
