import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ToolchainError } from '../../src/media/toolchain.ts';
import { startClipdock } from '../../src/server.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { startTestServer } from '../helpers/server.ts';
import { bins } from './fixtures.ts';

/**
 * The media toolchain check at start-up: a node that runs the worker refuses to start, with one
 * sentence that says what to do, unless ffmpeg and ffprobe are present, one release, 5.1 or
 * newer and complete; the release it runs shows in the log and in /api/health.
 */
const node = path.resolve('node_modules/.bin/node');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-toolchain-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The first line of `<tool> -version`, as the system's build states it. */
async function systemVersion(bin: string): Promise<string> {
  const { stdout } = await promisify(execFile)(bin, ['-version']);
  return /^\S+ version (\S+)/.exec(stdout)![1]!;
}

/** An executable shell script standing in for a media tool. */
async function script(name: string, body: string): Promise<string> {
  const file = path.join(await mkdtemp(path.join(dir, 'bin-')), name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

/** A tool that states a release it is not (the --version text of a real build of that release). */
const claims = (tool: string, version: string, libavcodec: string) =>
  script(
    tool,
    `echo "${tool} version ${version} Copyright (c) 2000-2021 the FFmpeg developers"\necho "libavcodec     ${libavcodec} / ${libavcodec}"`,
  );

/** `npm start` with this environment; resolves when it exits (it must: the check refuses). */
async function npmStart(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = spawn(node, ['src/main.ts'], {
    env: {
      ...process.env,
      // Nothing may start before the check: a database that cannot answer proves it.
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      CLIPDOCK_DATA_DIR: dir,
      PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stderr, stdout };
}

/** startClipdock as a worker node with these media settings; the check runs before any database. */
function startWorkerWith(env: Record<string, string>) {
  const config = loadConfig({
    DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    CLIPDOCK_DATA_DIR: dir,
    CLIPDOCK_ROLE: 'worker',
    ...env,
  });
  return startClipdock(config, pino({ level: 'silent' }));
}

describe('the media toolchain is checked when a node starts', () => {
  it('refuses to start when FFMPEG_PATH names a missing file, with one sentence and no stack', async () => {
    const missing = path.join(dir, 'nowhere', 'ffmpeg');
    const run = await npmStart({ FFMPEG_PATH: missing });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toBe(
      `ffmpeg was not found at ${missing} (FFMPEG_PATH): install a current build with \`apt-get install ffmpeg\` (Debian 12, Ubuntu 24.04 or later) or \`brew install ffmpeg\` (macOS), then correct FFMPEG_PATH, or unset it to use the system's ffmpeg.`,
    );
    expect(run.stdout).not.toMatch(/\bat .*\.ts:\d+/);
  });

  it('refuses an ffmpeg older than 5.1, with one sentence and no stack', async () => {
    const old = await claims('ffmpeg', '4.4.2-0ubuntu0.22.04.1', '58.134.100');
    const run = await npmStart({ FFMPEG_PATH: old });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toContain(`FFMPEG_PATH (${old}) is ffmpeg 4.4.2-0ubuntu0.22.04.1, which is too old`);
    expect(lines[0]).toContain('5.1 or newer');
    expect(lines[0]).toContain('apt-get install ffmpeg');
  });

  it('judges a git snapshot, which names no release, by its libavcodec (the 2018 bundle was one)', async () => {
    const snapshot = await claims('ffmpeg', 'N-47683-g0e8eb07980-static', '58.35.100');
    await expect(startWorkerWith({ FFMPEG_PATH: snapshot })).rejects.toThrow(
      `FFMPEG_PATH (${snapshot}) is ffmpeg N-47683-g0e8eb07980-static, which is too old`,
    );
  });

  it('refuses an ffmpeg and an ffprobe of different releases', async () => {
    const newer = await claims('ffprobe', '6.1.1-3ubuntu5', '60.31.102');
    const ffmpegVersion = await systemVersion(bins.ffmpeg);
    const err = await startWorkerWith({ FFPROBE_PATH: newer }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolchainError);
    expect((err as Error).message).toBe(
      `ffmpeg (${ffmpegVersion}, ${bins.ffmpeg}) and ffprobe (6.1.1-3ubuntu5, ${newer}) are from different releases: point FFMPEG_PATH and FFPROBE_PATH at the ffmpeg and ffprobe of one installation, or unset both to use the system's.`,
    );
  });

  it('refuses a build that lacks an encoder and a filter Clipdock uses', async () => {
    // The system's ffmpeg, except that its lists leave out libx264 and ebur128.
    const partial = await script(
      'ffmpeg',
      `case "$*" in
  *-encoders*) ${bins.ffmpeg} "$@" | grep -v ' libx264 ' ;;
  *-filters*) ${bins.ffmpeg} "$@" | grep -v ' ebur128 ' ;;
  *) exec ${bins.ffmpeg} "$@" ;;
esac`,
    );
    const err = await startWorkerWith({ FFMPEG_PATH: partial }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ToolchainError);
    expect((err as Error).message).toContain(
      `at ${partial} lacks what Clipdock needs (encoder libx264, filter ebur128)`,
    );
  });

  it('refuses an ffprobe path that holds ffmpeg', async () => {
    await expect(startWorkerWith({ FFPROBE_PATH: await which(bins.ffmpeg) })).rejects.toThrow(
      /is ffmpeg, not ffprobe: set FFPROBE_PATH to the path of ffprobe\.$/,
    );
  });

  it('logs the versions at start and shows them in /api/health', async () => {
    const [ffmpegVersion, ffprobeVersion] = await Promise.all([
      systemVersion(bins.ffmpeg),
      systemVersion(bins.ffprobe),
    ]);
    const db = await createTestDatabase();
    await db.close();
    const logged: Array<{ msg: string; ffmpeg?: { version: string } }> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) logged.push(JSON.parse(line));
        done();
      },
    });
    const config = loadConfig({
      DATABASE_URL: db.url,
      CLIPDOCK_DATA_DIR: await mkdtemp(path.join(dir, 'data-')),
      PORT: '0',
      HOST: '127.0.0.1',
    });
    const clipdock = await startClipdock(config, pino({ level: 'info' }, sink));
    try {
      const res = await fetch(`${clipdock.url}/api/health`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        status: 'ok',
        media: { ffmpeg: ffmpegVersion, ffprobe: ffprobeVersion },
      });
      const line = logged.find((l) => l.msg.startsWith('media tools:'));
      expect(line?.msg).toBe(
        `media tools: ffmpeg ${ffmpegVersion} (${bins.ffmpeg}), ffprobe ${ffprobeVersion} (${bins.ffprobe})`,
      );
    } finally {
      await clipdock.stop();
      await db.drop();
    }
  });

  it('an API-only node does not need the media tools', async () => {
    const server = await startTestServer({ CLIPDOCK_ROLE: 'api', FFMPEG_PATH: path.join(dir, 'nowhere') });
    try {
      const res = await fetch(`${server.url}/api/health`);
      expect(await res.json()).toEqual({ status: 'ok' });
    } finally {
      await server.stop();
    }
  });
});

async function which(bin: string): Promise<string> {
  if (bin.includes('/')) return bin;
  const { stdout } = await promisify(execFile)('sh', ['-c', `command -v ${bin}`]);
  return stdout.trim();
}
