import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import chromium from '@sparticuz/chromium';
import { type Browser, type Page, chromium as playwright } from 'playwright-core';
import { bins } from '../media/fixtures.ts';

const run = promisify(execFile);
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const artifactsDir = path.join(repoRoot, 'test-artifacts');

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(p).map((f) => newestMtime(path.join(p, f))));
}

function isStale(): boolean {
  const web = path.join(repoRoot, 'web');
  const built = path.join(web, 'dist', 'index.html');
  const sources = Math.max(
    newestMtime(path.join(web, 'src')),
    newestMtime(path.join(web, 'index.html')),
    newestMtime(path.join(web, 'vite.config.ts')),
  );
  return !existsSync(built) || statSync(built).mtimeMs < sources;
}

/**
 * Builds web/dist when it is missing or older than its sources, so `npm test` works on a fresh
 * clone. Test files run in parallel processes: a lock directory (mkdir is atomic) makes one build
 * while the others wait, so no server starts on a half-emptied dist.
 */
export async function ensureWebBuilt(): Promise<void> {
  if (!isStale()) return;
  const lock = path.join(
    os.tmpdir(),
    `clipdock-web-build-${createHash('sha1').update(repoRoot).digest('hex').slice(0, 12)}`,
  );
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch {
      // A lock left by a killed run is older than any real build.
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 180_000) await rm(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    if (!isStale()) return;
    // Vitest sets NODE_ENV=test, which would make Vite bundle React's development build.
    await run(
      process.execPath,
      [path.join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts'],
      { cwd: repoRoot, env: { ...process.env, NODE_ENV: 'production' } },
    );
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Chromium as @sparticuz/chromium ships it, driven headless by playwright-core. */
export async function launchBrowser(): Promise<Browser> {
  return playwright.launch({
    executablePath: await chromium.executablePath(),
    args: [...chromium.args, '--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
    headless: true,
  });
}

async function ffmpeg(args: string[]): Promise<void> {
  await run(bins.ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', ...args], {
    maxBuffer: 1 << 24,
  });
}

export interface TestMedia {
  mp4: string;
  mov: string;
  hevc: string;
  webm: string;
  fake: string;
  corrupt: string;
  big1: string;
  big2: string;
}

/**
 * Tiny real clips (testsrc picture + sine sound) in four containers/codecs, a text file named
 * .mp4, a file whose first bytes say MP4 but whose content is garbage, and two larger
 * (~25 MB, noise that does not compress) files for the network-cut and reload scenarios.
 */
export async function makeMedia(dir: string): Promise<TestMedia> {
  await mkdir(dir, { recursive: true });
  const src = (seconds: number, size = '320x240') => [
    '-f',
    'lavfi',
    '-i',
    `testsrc=size=${size}:rate=25:duration=${seconds}`,
    '-f',
    'lavfi',
    '-i',
    `sine=frequency=440:duration=${seconds}`,
  ];
  const m: TestMedia = {
    mp4: path.join(dir, 'beach-h264.mp4'),
    mov: path.join(dir, 'interview.mov'),
    hevc: path.join(dir, 'drone-hevc.mp4'),
    webm: path.join(dir, 'screen-vp9.webm'),
    fake: path.join(dir, 'notes.mp4'),
    corrupt: path.join(dir, 'broken-camera.mp4'),
    big1: path.join(dir, 'long-take-1.mp4'),
    big2: path.join(dir, 'long-take-2.mp4'),
  };
  // A bitrate well above what testsrc needs makes each small file a few hundred KB: big enough
  // that a throttled network shows several uploads in flight at once.
  const small = ['-b:v', '900k', '-maxrate', '900k', '-bufsize', '900k', '-pix_fmt', 'yuv420p'];
  await Promise.all([
    ffmpeg([
      ...src(3),
      '-c:v',
      'libx264',
      ...small,
      '-c:a',
      'aac',
      '-shortest',
      '-movflags',
      '+faststart',
      m.mp4,
    ]),
    ffmpeg([...src(3), '-c:v', 'libx264', ...small, '-c:a', 'aac', '-shortest', '-f', 'mov', m.mov]),
    ffmpeg([
      ...src(3),
      '-c:v',
      'libx265',
      '-x265-params',
      'log-level=error',
      '-b:v',
      '900k',
      '-pix_fmt',
      'yuv420p',
      '-tag:v',
      'hvc1',
      '-c:a',
      'aac',
      '-shortest',
      m.hevc,
    ]),
    ffmpeg([
      ...src(3),
      '-c:v',
      'libvpx-vp9',
      '-b:v',
      '600k',
      '-deadline',
      'realtime',
      '-cpu-used',
      '8',
      '-c:a',
      'libopus',
      '-shortest',
      m.webm,
    ]),
    writeFile(m.fake, 'These are my meeting notes, not a video.\n'.repeat(50)),
  ]);
  // Valid ISO BMFF magic (an ftyp box), then bytes no demuxer can make sense of.
  const ftyp = Buffer.from('000000186674797069736f6d0000020069736f6d6d703432', 'hex');
  const garbage = Buffer.alloc(200_000);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 251;
  await writeFile(m.corrupt, Buffer.concat([ftyp, garbage]));
  const noise = (out: string, seed: number) =>
    ffmpeg([
      '-f',
      'lavfi',
      '-i',
      `nullsrc=s=640x360:r=25:d=4,format=gray,noise=alls=100:allf=t+u:all_seed=${seed}`,
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-qp',
      '0',
      '-pix_fmt',
      'yuv420p',
      '-movflags',
      '+faststart',
      out,
    ]);
  await Promise.all([noise(m.big1, 1), noise(m.big2, 2)]);
  return m;
}

/**
 * Signs up through the page as a person would, and waits until the app is live (its socket open).
 * `beforeSubmit` runs with the form filled in (e.g. for a screenshot).
 */
export async function signUpInBrowser(
  page: Page,
  baseUrl: string,
  email: string,
  beforeSubmit?: () => Promise<unknown>,
): Promise<void> {
  await page.goto(baseUrl);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse battery');
  await beforeSubmit?.();
  await page.getByRole('button', { name: 'Create account' }).last().click();
  await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
}
