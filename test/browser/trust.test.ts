import { execFile } from 'node:child_process';
import { appendFile, copyFile, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bins } from '../media/fixtures.ts';
import { artifactsDir, ensureWebBuilt, launchBrowser, signUpInBrowser } from './harness.ts';

/**
 * What makes the uploader trustworthy beyond the queue itself: no error on the sign-in page, a
 * status bar on every page, duplicates pointed out before they are sent, the phone layout, and
 * file handles kept for reloads. An API-only node: nothing is processed.
 */
const run = promisify(execFile);
let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let dir: string;
let small: string;
let medium: string;
let dropped: string;

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
const db = () => server.node.ctx.db;
const row = (page: Page, name: string) => page.locator(`[data-testid=upload-row][data-name="${name}"]`);
const stateOf = (page: Page, name: string) => row(page, name).getAttribute('data-state');
const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(artifactsDir, `${name}.png`), fullPage: true });

async function throttle(page: Page, bytesPerSecond: number) {
  const cdp = await page.context().newCDPSession(page);
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
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-trust-'));
  small = path.join(dir, 'birthday.mp4');
  medium = path.join(dir, 'long-interview.mp4');
  dropped = path.join(dir, 'dropped-take.mp4');
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
    noise(medium, 3, 2),
    noise(dropped, 4, 2),
    ensureWebBuilt(),
    mkdir(artifactsDir, { recursive: true }),
  ]);
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a trustworthy uploader', () => {
  it('shows the sign-in page without a failed request or a console error, also after signing out', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    const failed: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(server.url);
    await page.getByRole('button', { name: 'Create account' }).last().waitFor();
    await page.waitForLoadState('networkidle');
    expect(failed).toEqual([]);
    expect(errors).toEqual([]);

    await signUpInBrowser(page, server.url, 'ada@example.com');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Create account' }).last().waitFor();
    await page.reload();
    await page.getByRole('button', { name: 'Create account' }).last().waitFor();
    await page.waitForLoadState('networkidle');
    expect(failed).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('shows one status bar on every page while uploads run: %, bytes, speed, time left, paused, offline', async () => {
    const page = await context.newPage();
    await signUpInBrowser(page, server.url, 'grace@example.com');
    await page.goto(`${server.url}/?chunkKiB=256`);
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    const size = (await stat(medium)).size;
    await throttle(page, Math.max(256 * 1024, Math.floor(size / 10)));
    const name = path.basename(medium);
    await page.getByTestId('file-input').setInputFiles(medium);

    const bar = page.getByTestId('upload-status');
    await bar.waitFor({ timeout: 30_000 });
    await expect
      .poll(
        async () => Number.parseInt((await bar.getByTestId('upload-status-pct').textContent()) ?? '0', 10),
        {
          timeout: 30_000,
        },
      )
      .toBeGreaterThan(0);
    await expect.poll(() => bar.textContent(), { timeout: 30_000 }).toMatch(/\/s/);
    await expect.poll(() => bar.textContent(), { timeout: 30_000 }).toMatch(/left/);
    expect(await bar.getByTestId('upload-status-bytes').textContent()).toMatch(/ of /);
    expect(await bar.textContent()).toMatch(/0 of 1 files/);

    // Another page of the app: the same bar.
    await page.getByRole('link', { name: 'Library' }).click();
    await bar.waitFor();
    await shot(page, 't2-status-bar-library');

    // Paused: the bar says so (and shows no speed).
    await bar.getByRole('button', { name: 'Show uploads' }).click();
    await page.getByRole('button', { name: 'Pause all' }).click();
    await expect.poll(() => bar.getAttribute('data-state')).toBe('paused');
    expect(await bar.getByTestId('upload-status-note').textContent()).toBe('Paused');
    await page.getByRole('button', { name: 'Resume all' }).click();
    await expect.poll(() => bar.getAttribute('data-state')).toBe('uploading');

    // Offline: the bar says it waits for the network, and carries on when it is back.
    await context.setOffline(true);
    await expect.poll(() => bar.getAttribute('data-state'), { timeout: 30_000 }).toBe('offline');
    expect(await bar.getByTestId('upload-status-note').textContent()).toMatch(/Offline/);
    await shot(page, 't3-status-bar-offline');
    await context.setOffline(false);
    await throttle(page, -1);
    await expect.poll(() => stateOf(page, name), { timeout: 60_000 }).toBe('complete');
    await bar.waitFor({ state: 'detached' });
    await page.close();
  });

  it('points out a file uploaded before, and sends it only on "Upload anyway"', async () => {
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    const name = path.basename(small);
    await page.getByTestId('file-input').setInputFiles(small);
    await expect.poll(() => stateOf(page, name), { timeout: 30_000 }).toBe('complete');
    await page.getByRole('button', { name: 'Clear finished' }).click();

    // The same content under another name and another modification time: still the same file.
    const again = path.join(dir, 'birthday-copy.mp4');
    await copyFile(small, again);
    const videos = () => db().selectFrom('videos').select(['id', 'name', 'fingerprint']).execute();
    const before = await videos();
    expect(before).toHaveLength(2); // the status-bar step's upload and this one
    const original = before.find((v) => v.name === name)!;
    expect(original.fingerprint).toMatch(/^[0-9a-f]{64}$/);

    await page.getByTestId('file-input').setInputFiles(again);
    const copyRow = row(page, 'birthday-copy.mp4');
    await expect.poll(() => stateOf(page, 'birthday-copy.mp4'), { timeout: 30_000 }).toBe('duplicate');
    expect(await copyRow.getByTestId('row-reason').textContent()).toContain(`“${name}”`);
    await page.getByTestId('duplicates-banner').waitFor();
    await shot(page, 't4-duplicate');
    // Nothing was created or sent for it.
    expect(await videos()).toHaveLength(2);

    await copyRow.getByRole('button', { name: 'Skip birthday-copy.mp4' }).click();
    expect(await stateOf(page, 'birthday-copy.mp4')).toBe('canceled');
    expect(await copyRow.getByTestId('row-reason').textContent()).toMatch(/Skipped/);
    expect(await videos()).toHaveLength(2);
    await page.getByRole('button', { name: 'Clear finished' }).click();

    // A changed file (other last bytes) is not a duplicate; the copy again is, and goes on request.
    const changed = path.join(dir, 'birthday-edit.mp4');
    await copyFile(small, changed);
    await appendFile(changed, 'edited');
    await page.getByTestId('file-input').setInputFiles([again, changed]);
    await expect.poll(() => stateOf(page, 'birthday-edit.mp4'), { timeout: 30_000 }).toBe('complete');
    await expect.poll(() => stateOf(page, 'birthday-copy.mp4')).toBe('duplicate');
    await row(page, 'birthday-copy.mp4')
      .getByRole('button', { name: 'Upload birthday-copy.mp4 anyway' })
      .click();
    await expect.poll(() => stateOf(page, 'birthday-copy.mp4'), { timeout: 30_000 }).toBe('complete');
    const after = await videos();
    expect(after.filter((v) => v.fingerprint === original.fingerprint)).toHaveLength(2);
    await page.close();
  });

  it('shows a queued video with an empty bar, and transcription as skipped when it is off', async () => {
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    // An API-only node processes nothing: an uploaded video stays queued.
    const card = page.locator(
      `[data-testid=processing-section] [data-testid=video-item][data-name="${path.basename(small)}"]`,
    );
    await card.waitFor({ timeout: 15_000 });
    expect(await card.getAttribute('data-status')).toBe('uploaded');
    expect(await card.getByTestId('step-words').textContent()).toMatch(/Queued for processing/);
    const bar = card.getByRole('progressbar');
    expect(await bar.getAttribute('aria-valuenow')).toBe('0');
    expect(await bar.locator('.fill').evaluate((el) => el.getBoundingClientRect().width)).toBe(0);
    await card.getByRole('button').first().click();
    const skipped = card.getByTestId('step-skipped');
    expect(await skipped.textContent()).toMatch(/Transcription: skipped/);
    expect(await card.getByText(/Transcribing/).count()).toBe(0);
    await page.close();
  });

  it('keeps every tab visible and nothing clipped on a phone (390×844)', async () => {
    // A new person on a phone, signed up on the small screen itself (one context: the test
    // Chromium runs single-process and shares storage between contexts anyway).
    await context.clearCookies();
    const page = await context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await signUpInBrowser(page, server.url, 'phone@example.com');
    const tabs = page.getByRole('navigation', { name: 'Sections' }).getByRole('link');
    const labels = await tabs.allTextContents();
    expect(labels).toEqual(
      expect.arrayContaining(['Upload & processing', 'Library', 'Timeline', 'Settings']),
    );
    for (const label of labels) {
      const box = await tabs.filter({ hasText: label }).boundingBox();
      expect(box, label).not.toBeNull();
      expect(box!.x, label).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width, label).toBeLessThanOrEqual(390);
    }
    for (const label of labels) {
      await tabs.filter({ hasText: label }).click();
      await page.waitForLoadState('networkidle');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, `${label} is wider than the screen`).toBeLessThanOrEqual(0);
      await shot(page, `t5-phone-${label.split(' ')[0]!.toLowerCase()}`);
    }
    await page.close();
  });

  it('keeps the handle of a dropped file for a reload (File System Access), and lets go of it when the upload ends', async () => {
    const page = await context.newPage();
    await page.goto(`${server.url}/?chunkKiB=256`);
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    const size = (await stat(dropped)).size;
    const cdp = await throttle(page, Math.max(256 * 1024, Math.floor(size / 8)));
    // A real drag from the operating system (DevTools input), not a synthetic DataTransfer: only
    // such a drop gives FileSystemFileHandles (getAsFileSystemHandle).
    const zone = await page.locator('.dropzone').boundingBox();
    const at = { x: zone!.x + zone!.width / 2, y: zone!.y + zone!.height / 2 };
    const data = { items: [], files: [dropped], dragOperationsMask: 1 };
    for (const type of ['dragEnter', 'dragOver', 'drop'] as const)
      await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
    const name = path.basename(dropped);
    await expect.poll(() => stateOf(page, name), { timeout: 30_000 }).toBe('uploading');
    const video = await db()
      .selectFrom('videos')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    // Keys only: reading a handle back is what a reload does (test/browser/reload-handle.test.ts does that, in Debian's Chromium).
    const kept = () =>
      page.evaluate(
        () =>
          new Promise<string[]>((resolve, reject) => {
            const open = indexedDB.open('clipdock-file-handles', 1);
            open.onerror = () => reject(open.error);
            open.onsuccess = () => {
              const req = open.result.transaction('handles').objectStore('handles').getAllKeys();
              req.onsuccess = () => {
                open.result.close();
                resolve(req.result.map(String));
              };
            };
          }),
      );
    expect(await kept()).toEqual([video.id]);
    await throttle(page, -1);
    await expect.poll(() => stateOf(page, name), { timeout: 60_000 }).toBe('complete');
    await expect.poll(kept).toEqual([]);
    const stored = await db()
      .selectFrom('videos')
      .select(['status', 'received_bytes'])
      .where('id', '=', video.id)
      .executeTakeFirstOrThrow();
    expect(stored).toEqual({ status: 'uploaded', received_bytes: String(size) });
    await page.close();
  });
});
