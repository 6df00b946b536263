import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { type Clipdock, startClipdock } from '../../src/server.ts';
import { createTestDatabase } from './db.ts';

export interface TestServer {
  url: string;
  node: Clipdock;
  databaseUrl: string;
  dataDir: string;
  /** Environment that starts another node on the same database and storage. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A real Clipdock node on a fresh database and a temp data dir, listening on a free port.
 * `env` overrides configuration as the environment would.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const db = await createTestDatabase();
  await db.close();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-test-'));
  const fullEnv = {
    PORT: '0',
    HOST: '127.0.0.1',
    CLIPDOCK_DATA_DIR: dataDir,
    DATABASE_URL: db.url,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    WORKER_CONCURRENCY: '2',
    ...env,
  };
  const config = loadConfig(fullEnv);
  const node = await startClipdock(config, pino({ level: config.logLevel }));
  return {
    url: node.url!,
    node,
    databaseUrl: db.url,
    dataDir,
    env: fullEnv,
    async stop() {
      await node.stop();
      await db.drop().catch(() => {});
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Signs up a fresh user and returns its token and a fetch that sends it. */
export async function signUp(baseUrl: string, email = `u${Math.random().toString(36).slice(2)}@example.com`) {
  const res = await fetch(`${baseUrl}/api/auth/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'correct horse battery' }),
  });
  if (res.status !== 201) throw new Error(`signup failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: string; user: { id: string; email: string } };
  const api = (p: string, init: RequestInit = {}) =>
    fetch(`${baseUrl}${p}`, {
      ...init,
      headers: {
        authorization: `Bearer ${body.token}`,
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...(init.headers ?? {}),
      },
    });
  return { ...body, email, api };
}
