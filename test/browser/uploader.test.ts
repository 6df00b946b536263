import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFile,
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bins } from '../media/fixtures.ts';
import { artifactsDir, ensureWebBuilt, launchBrowser, signUpInBrowser } from './harness.ts';

/**
 * The uploader people can trust: one owner per upload across tabs, a reload that asks each row
 * for its own file (and refuses another), and a drop larger than the server's per-session limit.
 * API-only server: nothing is processed, so uploads stay `uploaded` and the machine stays calm.
 */
const run = promisify(execFile);
let server: TestServer;
let browser: Browser;
/** One context for all steps: the harness's single-process Chromium shares storage between contexts anyway. */
let context: BrowserContext;
let dir: string;
let small: string;
let mediumA: string;
let mediumB: string;

const ffmpeg = (args: string[]) =>
  run(bins.ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { maxBuffer: 1 << 24 });
/** Noise does not compress: `seconds` of it at 320x240 lossless is a few MB. */
const noise = (out: string, seed: number, seconds: number) =>
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    `nullsrc=s=320x240:r=25:d=${seconds},format=gray,noise=alls=100:allf=t+u:all_seed=${seed}`,
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-qp',
    '0',
    '-pix_fmt',
    'yuv420p',
    out,
  ]);

/**
 * A copy with its own last bytes: another file to duplicate detection (same size and fingerprint
 * of the first and last MiB), as separate recordings would be.
 */
async function copyDistinct(src: string, dst: string): Promise<void> {
  await copyFile(src, dst);
  await appendFile(dst, `\n${path.basename(dst)}\n`);
}

const SAME_TIME = new Date('2026-01-01T00:00:00Z');
const db = () => server.node.ctx.db;
const videosNamed = (name: string) =>
  db().selectFrom('videos').select(['id', 'status', 'received_bytes']).where('name', '=', name).execute();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const row = (page: Page, name: string) => page.locator(`[data-testid=upload-row][data-name="${name}"]`);
const stateOf = (page: Page, name: string) => row(page, name).getAttribute('data-state');
const pctOf = async (page: Page, name: string) =>
  Number.parseInt((await row(page, name).getByTestId('row-pct').textContent()) ?? '0', 10);

async function throttle(page: Page, bytesPerSecond: number) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
  return cdp;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-uploader-'));
  small = path.join(dir, 'small.mp4');
  mediumA = path.join(dir, 'take-a.mp4');
  mediumB = path.join(dir, 'take-b.mp4');
  await Promise.all([
    ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=160x120:rate=15:duration=1',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      small,
    ]),
    noise(mediumA, 1, 2),
    noise(mediumB, 2, 2),
    ensureWebBuilt(),
    mkdir(artifactsDir, { recursive: true }),
  ]);
  // A whole-second modification time, which a copy can be given exactly (see the reload step).
  await utimes(mediumB, SAME_TIME, SAME_TIME);
  // 23 credits: one upload in each of the three steps before it (a canceled one gives its credit
  // back), then the 25-file drop, whose first session (20 files) fits and whose second (5) does not.
  server = await startTestServer({
    CLIPDOCK_ROLE: 'api',
    MAX_FILES_PER_SESSION: '20',
    STARTING_CREDITS: '23',
    CREDITS_PER_VIDEO: '1',
  });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('uploader across tabs, reloads and large drops', () => {
  it('gives each upload one owner tab: the other shows it running there, cannot cancel it, and sees it finish', async () => {
    const a = await context.newPage();
    await signUpInBrowser(a, server.url, 'tabs@example.com');
    await a.goto(`${server.url}/?chunkKiB=256`);
    await a.locator('.conn.ok').waitFor({ timeout: 15_000 });
    const b = await context.newPage();
    await b.goto(server.url);
    await b.locator('.conn.ok').waitFor({ timeout: 15_000 });

    const size = (await stat(mediumA)).size;
    // Slow enough to be seen mid-upload from the other tab (a few seconds for a few MB).
    await throttle(a, Math.max(256 * 1024, Math.floor(size / 6)));
    const name = path.basename(mediumA);
    await a.getByTestId('file-input').setInputFiles(mediumA);

    await expect.poll(() => stateOf(b, name), { timeout: 30_000 }).toBe('elsewhere');
    await b.getByTestId('elsewhere-banner').waitFor();
    await expect.poll(() => pctOf(b, name), { timeout: 30_000 }).toBeGreaterThan(0);
    // Tab B offers nothing that could end tab A's upload.
    expect(await row(b, name).getByRole('button').count()).toBe(0);
    const cancelAll = b.getByRole('button', { name: 'Cancel remaining' });
    expect(await cancelAll.isDisabled()).toBe(true);
    await b.screenshot({ path: path.join(artifactsDir, 'u1-other-tab.png') });
    // Paused in its owner tab: the other tab says so.
    await row(a, name)
      .getByRole('button', { name: `Pause ${name}` })
      .click();
    await expect
      .poll(async () => (await row(b, name).textContent()) ?? '', { timeout: 15_000 })
      .toContain('Paused in another tab');
    await row(a, name)
      .getByRole('button', { name: `Resume ${name}` })
      .click();

    await expect.poll(() => stateOf(a, name), { timeout: 60_000 }).toBe('complete');
    await expect.poll(() => stateOf(b, name), { timeout: 30_000 }).toBe('complete');
    const [v] = await videosNamed(name);
    expect(v?.status).toBe('uploaded');
    // Neither tab lists it as interrupted after a reload of B.
    await b.reload();
    await b.locator('.conn.ok').waitFor({ timeout: 15_000 });
    expect(await row(b, name).count()).toBe(0);
    expect((await videosNamed(name))[0]?.status).toBe('uploaded');
    // Pages stay open (closing one can end the single-process browser); they just go quiet.
    await Promise.all([a.goto('about:blank'), b.goto('about:blank')]);
  });

  it('hands an upload over when its owner tab goes away: the other tab lists it as interrupted and continues it', async () => {
    const a = await context.newPage();
    await a.goto(`${server.url}/?chunkKiB=256`);
    await a.locator('.conn.ok').waitFor({ timeout: 15_000 });
    const b = await context.newPage();
    await b.goto(`${server.url}/?chunkKiB=256`);
    await b.locator('.conn.ok').waitFor({ timeout: 15_000 });
    const file = path.join(dir, 'handover.mp4');
    await copyDistinct(mediumA, file);
    const name = 'handover.mp4';
    const size = (await stat(file)).size;
    await throttle(a, Math.max(256 * 1024, Math.floor(size / 8)));
    await a.getByTestId('file-input').setInputFiles(file);
    await expect.poll(() => stateOf(b, name), { timeout: 30_000 }).toBe('elsewhere');
    await expect
      .poll(async () => Number((await videosNamed(name))[0]?.received_bytes ?? 0), { timeout: 60_000 })
      .toBeGreaterThan(0);

    // The owner leaves (its locks go with it; the leave-page question is answered yes).
    a.on('dialog', (d) => void d.accept());
    await a.goto('about:blank');
    await expect.poll(() => stateOf(b, name), { timeout: 30_000 }).toBe('awaiting_file');
    await expect.poll(() => pctOf(b, name), { timeout: 15_000 }).toBeGreaterThan(0);
    const chooser = b.waitForEvent('filechooser');
    await row(b, name)
      .getByRole('button', { name: `Choose the file for ${name}` })
      .click();
    await (await chooser).setFiles(file);
    await expect.poll(() => stateOf(b, name), { timeout: 60_000 }).toBe('complete');
    const vids = await videosNamed(name);
    expect(vids).toHaveLength(1);
    expect(vids[0]!.status).toBe('uploaded');
    await b.goto('about:blank');
  });

  it('warns before a reload mid-upload, then refuses a different file on the row and resumes with the right one', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/?chunkKiB=256`);
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    const name = path.basename(mediumB);
    const size = (await stat(mediumB)).size;
    const cdp = await throttle(page, Math.max(256 * 1024, Math.floor(size / 8)));
    await page.getByTestId('file-input').setInputFiles(mediumB);
    // Some chunks stored on the server, most still to send.
    await expect
      .poll(async () => Number((await videosNamed(name))[0]?.received_bytes ?? 0), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(512 * 1024);

    // A click gives the page the user activation browsers require before they show the warning.
    await page.getByRole('heading', { name: 'Upload videos' }).click();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.type());
      void d.accept();
    });
    await page.reload();
    expect(dialogs).toContain('beforeunload');
    await cdp.detach().catch(() => {});
    const slow = await throttle(page, Math.max(256 * 1024, Math.floor(size / 8)));

    await expect.poll(() => stateOf(page, name), { timeout: 30_000 }).toBe('awaiting_file');
    // The row shows what the server holds, not 0 %.
    await expect.poll(() => pctOf(page, name), { timeout: 15_000 }).toBeGreaterThan(0);

    // Same name, size and modification time, different content in the first MiB.
    const wrongDir = path.join(dir, 'wrong');
    await mkdir(wrongDir, { recursive: true });
    const wrong = path.join(wrongDir, name);
    const bytes = await readFile(mediumB);
    const altered = Buffer.from(bytes);
    for (let i = 4096; i < 8192; i++) altered[i] = altered[i]! ^ 0xff;
    await writeFile(wrong, altered);
    await utimes(wrong, SAME_TIME, SAME_TIME);

    const pick = async (file: string) => {
      const chooser = page.waitForEvent('filechooser');
      await row(page, name)
        .getByRole('button', { name: `Choose the file for ${name}` })
        .click();
      await (await chooser).setFiles(file);
    };
    await pick(wrong);
    await expect
      .poll(async () => (await row(page, name).getByTestId('row-reason').textContent()) ?? '', {
        timeout: 15_000,
      })
      .toMatch(/different content/);
    expect(await stateOf(page, name)).toBe('awaiting_file');
    expect(await videosNamed(name)).toHaveLength(1);
    await page.screenshot({ path: path.join(artifactsDir, 'u2-wrong-file-refused.png') });

    await slow.detach().catch(() => {});
    await pick(mediumB);
    await expect.poll(() => stateOf(page, name), { timeout: 60_000 }).toBe('complete');
    expect(await row(page, name).getByTestId('resumed-from').textContent()).toMatch(/resumed at/);
    const vids = await videosNamed(name);
    expect(vids).toHaveLength(1);
    expect(vids[0]!.status).toBe('uploaded');
    const stored = await readFile(path.join(server.node.ctx.config.uploadsDir, vids[0]!.id)).catch(
      () => null,
    );
    if (stored) expect(sha256(stored)).toBe(sha256(bytes));
    await page.goto('about:blank');
  });

  it('cancels an unfinished upload by tus termination: the video is canceled and its credit released', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/?chunkKiB=256`);
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    const copy = path.join(dir, 'cancel-me.mp4');
    await copyDistinct(mediumA, copy);
    const size = (await stat(copy)).size;
    const cdp = await throttle(page, Math.max(256 * 1024, Math.floor(size / 8)));
    const name = 'cancel-me.mp4';
    const credits = () => page.evaluate(async () => (await (await fetch('/api/me')).json()).credits);
    const before = await credits();
    await page.getByTestId('file-input').setInputFiles(copy);
    await expect
      .poll(async () => Number((await videosNamed(name))[0]?.received_bytes ?? 0), { timeout: 60_000 })
      .toBeGreaterThan(0);
    const terminations: string[] = [];
    page.on('request', (req) => {
      if (req.method() === 'DELETE') terminations.push(new URL(req.url()).pathname);
    });
    await row(page, name)
      .getByRole('button', { name: `Cancel ${name}` })
      .click();
    await expect.poll(() => stateOf(page, name), { timeout: 15_000 }).toBe('canceled');
    await expect.poll(async () => (await videosNamed(name))[0]?.status, { timeout: 15_000 }).toBe('canceled');
    const [v] = await videosNamed(name);
    // Only the tus upload was terminated; DELETE /api/videos/:id was never called.
    expect(terminations).toEqual([`/api/uploads/${v!.id}`]);
    await expect.poll(credits, { timeout: 15_000 }).toEqual(before);
    await cdp.detach().catch(() => {});
    await page.goto('about:blank');
  });

  it('splits a drop of 25 files into sessions of the server limit (20): what fits uploads, the rest is refused once per file', async () => {
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    const many = path.join(dir, 'many');
    await mkdir(many, { recursive: true });
    const files = await Promise.all(
      Array.from({ length: 25 }, async (_, i) => {
        const f = path.join(many, `clip-${String(i + 1).padStart(2, '0')}.mp4`);
        await copyDistinct(small, f);
        return f;
      }),
    );
    await page.getByTestId('file-input').setInputFiles(files);
    const rows = page.getByTestId('upload-row');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(25);
    await expect
      .poll(() => page.locator('[data-testid=upload-row][data-state=complete]').count(), { timeout: 120_000 })
      .toBe(20);
    // A whole-second modification time, which a copy can be given exactly (see the reload step).
    await utimes(mediumB, SAME_TIME, SAME_TIME);
    // 22 credits: the second session (5 files) is refused as a whole, each of its rows says why.
    const failed = page.locator('[data-testid=upload-row][data-state=failed]');
    await expect.poll(() => failed.count(), { timeout: 30_000 }).toBe(5);
    for (const reason of await failed.getByTestId('row-reason').allTextContents()) {
      expect(reason).toMatch(/credit/i);
      expect(reason).not.toMatch(/session/i);
    }
    expect(
      await page.locator('[data-testid=upload-row][data-state=failed] [data-testid=row-reason]').count(),
    ).toBe(5);
    const sessions = await db().selectFrom('upload_sessions').select('id').execute();
    const uploaded = await db().selectFrom('videos').select('id').where('name', 'like', 'clip-%').execute();
    expect(uploaded).toHaveLength(20);
    expect(sessions.length).toBeGreaterThanOrEqual(1);
    await page.screenshot({ path: path.join(artifactsDir, 'u3-25-files.png'), fullPage: true });
  });

  it('keeps a drop of 300 files smooth: only the rows near the viewport are in the page', async () => {
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    const lots = path.join(dir, 'lots');
    await mkdir(lots, { recursive: true });
    const files = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const f = path.join(lots, `lot-${String(i + 1).padStart(3, '0')}.mp4`);
        await copyDistinct(small, f);
        return f;
      }),
    );
    // No credits are left: every session is refused, each row says so; the list still has 300 rows.
    await page.getByTestId('file-input').setInputFiles(files);
    const list = page.getByRole('list', { name: 'Files' });
    await expect
      .poll(() => list.evaluate((el) => el.getBoundingClientRect().height), { timeout: 15_000 })
      .toBeGreaterThan(300 * 60);
    expect(await page.getByTestId('upload-row').count()).toBeLessThan(80);
    const last = row(page, 'lot-300.mp4');
    // To the end of the list (the page goes on below it).
    await list.evaluate((el) => el.scrollIntoView({ block: 'end' }));
    await expect
      .poll(
        () => page.locator('[data-testid=upload-row][data-name="lot-300.mp4"][data-state=failed]').count(),
        {
          timeout: 30_000,
        },
      )
      .toBe(1);
    expect(await last.getAttribute('aria-posinset')).toBe('300');
    expect(await last.getByTestId('row-reason').textContent()).toMatch(/credit/i);
    expect(await page.getByTestId('upload-row').count()).toBeLessThan(80);
    await page.goto('about:blank');
  });
});

describe('the player', () => {
  let full: TestServer;
  let clip: string;
  beforeAll(async () => {
    clip = path.join(dir, 'with-sound.mp4');
    await ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=160x120:rate=15:duration=2',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:duration=2',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-shortest',
      clip,
    ]);
    // This step needs a processed video: a node with its worker.
    full = await startTestServer({ WORKER_CONCURRENCY: '1' });
  }, 120_000);
  afterAll(async () => {
    await full?.stop();
  });

  it('plays with sound and has volume, speed, fullscreen and keyboard control', async () => {
    const page = await context.newPage();
    await signUpInBrowser(page, full.url, 'player@example.com');
    await page.getByTestId('file-input').setInputFiles(clip);
    const name = path.basename(clip);
    const ready = page.locator(`[data-testid=ready-section] [data-name="${name}"]`);
    await ready.waitFor({ timeout: 120_000 });
    await ready.getByRole('button', { name: `Preview ${name}` }).click();
    const video = page.getByTestId('preview-video');
    await video.waitFor();
    await expect
      .poll(() => video.evaluate((el: HTMLVideoElement) => el.currentTime), { timeout: 30_000 })
      .toBeGreaterThan(0);
    // Sound: not muted, full volume, and a control to change it.
    expect(await video.evaluate((el: HTMLVideoElement) => [el.muted, el.volume])).toEqual([false, 1]);
    const player = page.getByTestId('player');
    expect(await player.getByRole('button', { name: 'Mute' }).count()).toBe(1);
    await player.getByLabel('Volume').fill('0.3');
    await expect
      .poll(() => video.evaluate((el: HTMLVideoElement) => el.volume), { timeout: 10_000 })
      .toBeCloseTo(0.3, 2);
    await player.getByLabel('Playback speed').selectOption('1.5');
    expect(await video.evaluate((el: HTMLVideoElement) => el.playbackRate)).toBe(1.5);
    expect(await player.getByRole('button', { name: 'Fullscreen' }).count()).toBe(1);

    // Keyboard: M mutes, Space pauses, and focus stays on the video.
    await video.focus();
    await page.keyboard.press('m');
    expect(await video.evaluate((el: HTMLVideoElement) => el.muted)).toBe(true);
    expect(await player.getByRole('button', { name: 'Unmute' }).count()).toBe(1);
    await video.evaluate((el: HTMLVideoElement) => el.play());
    await page.keyboard.press(' ');
    expect(await video.evaluate((el: HTMLVideoElement) => el.paused)).toBe(true);
    expect(await video.evaluate((el) => document.activeElement === el)).toBe(true);
    await page.screenshot({ path: path.join(artifactsDir, 'u4-player.png') });

    // The volume is remembered for the next player (library, timeline: the same component).
    expect(await page.evaluate(() => localStorage.getItem('clipdock.player.volume'))).toBe('0.3');
  });

  it('removes a failed card, and the video with it', async () => {
    const page = await context.newPage();
    await page.goto(full.url);
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    // MP4 magic, then bytes no demuxer can read: it uploads, then fails processing.
    const broken = path.join(dir, 'broken.mp4');
    const garbage = Buffer.alloc(120_000);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) % 251;
    await writeFile(
      broken,
      Buffer.concat([Buffer.from('000000186674797069736f6d0000020069736f6d6d703432', 'hex'), garbage]),
    );
    await page.getByTestId('file-input').setInputFiles(broken);
    const card = page.locator('[data-testid=failed-section] [data-name="broken.mp4"]');
    await card.waitFor({ timeout: 120_000 });
    await card.getByRole('button', { name: 'Delete broken.mp4' }).click();
    await card
      .getByRole('group', { name: 'Confirm delete of broken.mp4' })
      .getByRole('button', { name: 'Delete' })
      .click();
    await card.waitFor({ state: 'detached', timeout: 30_000 });
    // The row is gone (deleting removes it), so a reload does not bring the card back.
    const left = await full.node.ctx.db
      .selectFrom('videos')
      .select('id')
      .where('name', '=', 'broken.mp4')
      .execute();
    expect(left).toHaveLength(0);
    await page.reload();
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    expect(await card.count()).toBe(0);
  });
});
