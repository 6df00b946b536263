import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../../src/db/embedded.ts';

/**
 * Outage tests stop and start a PostgreSQL of their own (never the shared test cluster, which
 * other test files use meanwhile): an embedded one in a temp dir, on a fixed port so that its
 * clients find it again after a restart.
 */
export interface OwnPostgres {
  adminUrl: string;
  stop(): Promise<void>;
  /** Starts it again (no-op while it runs). */
  start(): Promise<void>;
  /** A fresh empty database on it. */
  createDatabase(): Promise<string>;
  /** Ends every session of `database` (the server side of a failover or a restart of one database). */
  terminate(database: string, where?: string): Promise<number>;
  destroy(): Promise<void>;
}

const repo = path.resolve(import.meta.dirname, '../..');
const nodeBin = path.join(repo, 'node_modules/.bin/node');

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-outage-pg-'));
  const port = await freePort();
  const settings = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };
  let running: EmbeddedDatabase | undefined = await startEmbeddedPostgres({ dir, port, settings });
  const adminUrl = running.url.replace(/\/clipdock$/, '/postgres');
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: adminUrl });
    c.on('error', () => {});
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => {});
    }
  };
  return {
    adminUrl,
    async stop() {
      await running?.stop();
      running = undefined;
    },
    async start() {
      if (running) return;
      running = await startEmbeddedPostgres({ dir, port, settings });
    },
    async createDatabase() {
      const name = `clipdock_o_${Math.random().toString(36).slice(2, 10)}`;
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async terminate(database, where = 'true') {
      const r = await admin((c) =>
        c.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND (${where})`,
          [database],
        ),
      );
      return r.rowCount ?? 0;
    },
    async destroy() {
      await running?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A Clipdock node as its own process (`node src/main.ts`): a crash shows as its exit. */
export interface NodeProcess {
  url: string;
  proc: ChildProcess;
  /** Everything it printed so far (pino JSON lines and any crash trace). */
  output(): string;
  /** Resolves with the first output line matching `re` (null if the process exits first). */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string | null>;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export async function startNodeProcess(env: Record<string, string>): Promise<NodeProcess> {
  const port = await freePort();
  const proc = spawn(nodeBin, ['src/main.ts'], {
    cwd: repo,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of [...listeners]) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const waitForLine = (re: RegExp, timeoutMs = 60_000) =>
    new Promise<string | null>((resolve, reject) => {
      const check = () => {
        const line = out.split('\n').find((l) => re.test(l));
        if (line !== undefined) finish(line);
      };
      const finish = (v: string | null) => {
        clearTimeout(timer);
        listeners.delete(check);
        resolve(v);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no line matching ${re} in time; output:\n${out.slice(-4000)}`));
      }, timeoutMs);
      listeners.add(check);
      void exited.then(() => finish(null));
      check();
    });
  const ready = await waitForLine(/Clipdock is ready: /);
  if (!ready) throw new Error(`node exited before it was ready:\n${out}`);
  return {
    url: `http://127.0.0.1:${port}`,
    proc,
    output: () => out,
    waitForLine,
    exited,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
