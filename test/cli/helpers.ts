import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

/** The CLI entry, run the way `npx clipdock` runs it: Node (24, from node_modules) on the .ts file. */
export const CLI = path.resolve(import.meta.dirname, '../../src/cli/clipdock.ts');

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code once the process ended. */
  exit: Promise<number | null>;
  /** Resolves once a line of stderr matches. */
  stderrLine(re: RegExp): Promise<string>;
}

/** Spawns `clipdock ...args` with `env` added to a clean environment (no CLIPDOCK_* leaking in). */
export function runCli(args: string[], env: Record<string, string> = {}): CliRun {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CLIPDOCK_')));
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...base, ...env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  const waiters: Array<{ re: RegExp; resolve: (line: string) => void }> = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of [...waiters]) {
      const line = err.split('\n').find((l) => w.re.test(l));
      if (line) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    stderrLine(re) {
      const line = err.split('\n').find((l) => re.test(l));
      if (line) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        void exit.then(() => reject(new Error(`exited before a line matched ${re}:\n${err}`)));
      });
    },
  };
}

/** A personal API token for the signed-up user, as a script would get one. */
export async function createApiToken(api: (p: string, init?: RequestInit) => Promise<Response>) {
  const res = await api('/api/tokens', { method: 'POST', body: JSON.stringify({ name: 'cli test' }) });
  if (res.status !== 201) throw new Error(`token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export const sha256 = (b: Buffer | Uint8Array) => createHash('sha256').update(b).digest('hex');
export const fileSha = async (file: string) => sha256(await readFile(file));

/** The original as the server stores it, by its owner's token. */
export async function originalSha(baseUrl: string, token: string, videoId: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/videos/${videoId}/original`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status !== 200) throw new Error(`original: ${res.status} ${await res.text()}`);
  return sha256(new Uint8Array(await res.arrayBuffer()));
}

export interface CliJson {
  ok: boolean;
  exitCode: number;
  files: Array<{
    path: string;
    name: string;
    size: number;
    videoId: string | null;
    upload: string;
    resumedFrom: number;
    status: string | null;
    error: { code: string; message: string } | null;
  }>;
  skipped: Array<{ path: string; reason: string }>;
}

/**
 * A TCP proxy in front of `target` that cuts every connection once, after `cutAfter` bytes went
 * towards the server: a network that drops mid-upload and comes back.
 */
export async function flakyProxy(target: string, cutAfter: number) {
  const { port, hostname } = new URL(target);
  const sockets = new Set<net.Socket>();
  let sent = 0;
  let cut = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    const forget = () => {
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', forget);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('data', (d: Buffer) => {
      sent += d.length;
      upstream.write(d);
      if (!cut && sent >= cutAfter) {
        cut = true;
        for (const s of sockets) s.destroy();
      }
    });
    upstream.pipe(client);
    client.on('end', () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    wasCut: () => cut,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
