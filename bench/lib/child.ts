import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';

/**
 * A server under test, in its own process so its memory can be read from /proc and it does not
 * share an event loop with the client.
 */
export interface ServerProcess {
  name: string;
  /** http://127.0.0.1:<port> */
  url: string;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Node 24 from the repo (the system node may be older). */
export const NODE = new URL('../../node_modules/.bin/node', import.meta.url).pathname;

/**
 * Starts `node <script>` and waits for a stdout line matching `ready` whose first group is the
 * port. Output is kept (last 64 KiB) so a failed start can say why.
 */
export async function startServer(opts: {
  name: string;
  script: string;
  args?: string[];
  /** Options for node itself (e.g. --cpu-prof). */
  nodeArgs?: string[];
  env?: Record<string, string>;
  cwd?: string;
  ready: RegExp;
  timeoutMs?: number;
}): Promise<ServerProcess> {
  const child = spawn(NODE, [...(opts.nodeArgs ?? []), opts.script, ...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-65536);
  };
  child.stderr!.on('data', keep);
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${opts.name} did not start in time:\n${output}`)),
      opts.timeoutMs ?? 120_000,
    );
    child.stdout!.on('data', (d: Buffer) => {
      keep(d);
      const m = opts.ready.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${opts.name} exited (${code}) before it was ready:\n${output}`));
    });
  });
  return {
    name: opts.name,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resident set size of a process, in bytes (VmRSS from /proc/<pid>/status). */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Samples a process's RSS every `everyMs` until stopped; reports the peak seen. */
export function sampleRss(pid: number, everyMs = 50): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await rssOf(pid).catch(() => 0));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return Math.max(peak, await rssOf(pid).catch(() => 0));
    },
  };
}
