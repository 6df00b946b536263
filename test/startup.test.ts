import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `npm start` as a user runs it: src/main.ts with no DATABASE_URL, so it starts its own embedded
 * PostgreSQL under the data dir. Each node runs in its own process group, as a terminal would.
 */
const node = path.resolve('node_modules/.bin/node');
let dataDir: string;
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.pid) killGroup(c.pid, 'SIGKILL');
  await sleep(500);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function killGroup(pid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

async function start(port: number): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(node, ['src/main.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: '',
      CLIPDOCK_DATA_DIR: dataDir,
      PORT: String(port),
      LOG_LEVEL: 'warn',
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
  const deadline = Date.now() + 90_000;
  while (!out.includes('Clipdock is ready')) {
    if (child.exitCode !== null) throw new Error(`Clipdock exited (${child.exitCode}):\n${out}`);
    if (Date.now() > deadline) throw new Error(`Clipdock did not start in time:\n${out}`);
    await sleep(100);
  }
  return { child, output: () => out };
}

async function postmasterPid(): Promise<number | undefined> {
  try {
    const text = await readFile(path.join(dataDir, 'db/pg/postmaster.pid'), 'utf8');
    return Number(text.split('\n')[0]);
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as import('node:net').AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('npm start with the embedded PostgreSQL', () => {
  it('starts, keeps data across restarts and crashes, and leaves no process behind', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-start-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;

    // First start: initialises the cluster, prints the URL.
    const first = await start(port);
    expect(first.output()).toContain(`http://localhost:${port}`);
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    const signup = await fetch(`${base}/api/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'keep@example.com', password: 'correct horse battery' }),
    });
    expect(signup.status).toBe(201);
    const pg1 = await postmasterPid();
    expect(pg1 && alive(pg1)).toBe(true);

    // Ctrl-C: everything stops, the embedded PostgreSQL included.
    killGroup(first.child.pid!, 'SIGINT');
    await new Promise((r) => first.child.once('exit', r));
    for (let i = 0; i < 50 && alive(pg1!); i++) await sleep(100);
    expect(alive(pg1!)).toBe(false);

    // Second start reuses the data; then a crash of the whole process group.
    const second = await start(port);
    const login = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'keep@example.com', password: 'correct horse battery' }),
    });
    expect(login.status).toBe(200);
    killGroup(second.child.pid!, 'SIGKILL');
    await new Promise((r) => second.child.once('exit', r));
    expect(await postmasterPid()).toBeDefined(); // a stale postmaster.pid is left behind

    // A crash of Clipdock alone orphans its postmaster: the next start must still come up.
    const third = await start(port);
    const pg3 = await postmasterPid();
    third.child.kill('SIGKILL');
    await new Promise((r) => third.child.once('exit', r));
    expect(alive(pg3!)).toBe(true);

    const fourth = await start(port);
    expect(alive(pg3!)).toBe(false);
    const again = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'keep@example.com', password: 'correct horse battery' }),
    });
    expect(again.status).toBe(200);
    const pg4 = await postmasterPid();
    killGroup(fourth.child.pid!, 'SIGTERM');
    const code = await new Promise((r) => fourth.child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    for (let i = 0; i < 50 && alive(pg4!); i++) await sleep(100);
    expect(alive(pg4!)).toBe(false);
  }, 300_000);

  it('refuses a bad configuration with one message listing every problem', async () => {
    const child = spawn(node, ['src/main.ts'], {
      env: { ...process.env, PORT: 'eighty', STORAGE_DRIVER: 'floppy', CLIPDOCK_ROLE: 'boss' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr?.on('data', (d) => {
      err += d;
    });
    const code = await new Promise((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(err).toContain('PORT');
    expect(err).toContain('STORAGE_DRIVER');
    expect(err).toContain('CLIPDOCK_ROLE');
  });
});
