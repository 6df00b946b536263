import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { type ServerProcess, startServer } from './child.ts';
import { jsonRequest, type UploadTarget } from './tus-client.ts';

/** The servers the upload bench measures, each in its own process (bench/uploads.ts). */

const ROOT = new URL('../..', import.meta.url).pathname;
export const MEM_TRACE = process.env.BENCH_MEM_TRACE === '1';
const PROBE = new URL('./mem-probe.ts', import.meta.url).href;

/** How every server process is started: node options, and where profiles go. */
export interface StartOptions {
  nodeArgs: string[];
  profileDir: string;
  /** Most files in one Clipdock upload session. */
  maxFiles: number;
}

/** Node options and environment that load the memory probe into a server (BENCH_MEM_TRACE=1). */
function probeOptions(file: string): { nodeArgs: string[]; env: Record<string, string> } {
  return MEM_TRACE
    ? { nodeArgs: ['--import', PROBE], env: { BENCH_MEM_TRACE: file } }
    : { nodeArgs: [], env: {} };
}

/** One server under test: how to start it, where to upload, how to free its disk between runs. */
export interface Subject {
  name: string;
  server: ServerProcess;
  /** Where the memory probe writes its summary (BENCH_MEM_TRACE=1). */
  probeFile: string;
  targets(count: number, size: number): Promise<UploadTarget[]>;
  clear(): Promise<void>;
}

async function emptyDir(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [] as string[])) {
    await rm(path.join(dir, entry), { recursive: true, force: true });
  }
}

export async function bareSubject(
  name: string,
  script: string,
  dir: string,
  opts: StartOptions,
): Promise<Subject> {
  const probeFile = `${dir}.mem.json`;
  const probe = probeOptions(probeFile);
  const server = await startServer({
    name,
    script: path.join(ROOT, 'bench', 'servers', script),
    args: [dir],
    nodeArgs: [...opts.nodeArgs, ...probe.nodeArgs],
    env: probe.env,
    ready: /LISTENING (\d+)/,
  });
  return {
    name,
    server,
    probeFile,
    targets: async (count) => Array.from({ length: count }, () => ({ endpoint: `${server.url}/files` })),
    clear: () => emptyDir(dir),
  };
}

/** How a Clipdock node stores files: local disk (the default) or a bucket (bench/uploads-s3.bench.ts). */
export interface ClipdockStorage {
  name: string;
  env: Record<string, string>;
  /** Frees what finished uploads left in storage. */
  clear(): Promise<void>;
}

/** A real Clipdock node (`node src/main.ts`, embedded PostgreSQL, local-disk storage unless told). */
export async function clipdockSubject(
  dataDir: string,
  opts: StartOptions,
  storage?: ClipdockStorage,
): Promise<Subject> {
  const probeFile = `${dataDir}.mem.json`;
  const probe = probeOptions(probeFile);
  const env: Record<string, string> = {
    ...probe.env,
    PORT: '0',
    HOST: '127.0.0.1',
    CLIPDOCK_DATA_DIR: dataDir,
    // The API alone: the worker would start probing the (random) uploads mid-measurement.
    CLIPDOCK_ROLE: 'api',
    LOG_LEVEL: 'warn',
    STARTING_CREDITS: '1000000',
    STORAGE_QUOTA_BYTES: String(1024 ** 4),
    MAX_FILES_PER_SESSION: String(opts.maxFiles),
    DATABASE_URL: '',
    STORAGE_DRIVER: 'fs',
    ...storage?.env,
  };
  const server = await startServer({
    name: 'Clipdock',
    script: path.join(ROOT, 'src', 'main.ts'),
    cwd: ROOT,
    env,
    nodeArgs: [
      ...opts.nodeArgs,
      ...probe.nodeArgs,
      ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : []),
    ],
    ready: /Clipdock is ready: https?:\/\/[^\s:]+:(\d+)/,
    timeoutMs: 180_000,
  });
  const signup = await jsonRequest<{ token: string }>('POST', `${server.url}/api/auth/signup`, {
    email: `bench-${Date.now()}@example.com`,
    password: 'bench password 123',
  });
  if (signup.status !== 201) throw new Error(`Clipdock signup failed: ${signup.status}`);
  const auth = { authorization: `Bearer ${signup.json.token}` };
  return {
    name: storage?.name ?? 'Clipdock',
    server,
    probeFile,
    async targets(count, size) {
      const res = await jsonRequest<{
        files: Array<{ upload: { endpoint: string; metadata: Record<string, string> } }>;
      }>(
        'POST',
        `${server.url}/api/upload-sessions`,
        {
          files: Array.from({ length: count }, (_, i) => ({
            name: `bench-${i}.mp4`,
            size,
            type: 'video/mp4',
          })),
        },
        auth,
      );
      if (res.status !== 201)
        throw new Error(`upload session refused: ${res.status} ${JSON.stringify(res.json)}`);
      return res.json.files.map((f) => ({
        endpoint: f.upload.endpoint,
        metadata: f.upload.metadata,
        headers: auth,
      }));
    },
    // Finished uploads are renamed into storage; the database rows stay (they are tiny).
    clear: storage?.clear ?? (() => emptyDir(path.join(dataDir, 'storage', 'videos'))),
  };
}
