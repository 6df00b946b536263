import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import {
  artifactsDir,
  ensureWebBuilt,
  launchBrowser,
  makeMedia,
  signUpInBrowser,
  type TestMedia,
} from './harness.ts';

/**
 * The web app as a person uses it, in a real Chromium against a real server (embedded
 * PostgreSQL, in-process worker, real ffmpeg). The steps share one page and run in order.
 */
let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let cdp: CDPSession;
let media: TestMedia;
let mediaDir: string;
const wsFrames: Array<{ videoId?: string; status?: string; type?: string }> = [];
/** What the browser blocked under the page's Content-Security-Policy, and the pages' headers. */
const cspViolations: string[] = [];
const documentHeaders: Array<Record<string, string>> = [];

const row = (name: string) => page.locator(`[data-testid=upload-row][data-name="${name}"]`);
const item = (section: string, name: string) =>
  page.locator(`[data-testid=${section}-section] [data-testid=video-item][data-name="${name}"]`);
const shot = (name: string) =>
  page.screenshot({ path: path.join(artifactsDir, `${name}.png`), fullPage: true });
/** Throttles uploads (bytes per second) through the DevTools protocol; -1 lifts the limit. */
const throttle = (bytesPerSecond: number) =>
  cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
const names = (p: string) => path.basename(p);

beforeAll(async () => {
  mediaDir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-browser-media-'));
  [media] = await Promise.all([
    makeMedia(mediaDir),
    ensureWebBuilt(),
    mkdir(artifactsDir, { recursive: true }),
  ]);
  server = await startTestServer({ WORKER_CONCURRENCY: '2' });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  // A reload mid-upload asks "leave the page?" (beforeunload): these steps mean to leave.
  page.on('dialog', (d) => void d.accept());
  cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
  });
  page.on('response', (res) => {
    if (res.request().resourceType() === 'document') documentHeaders.push(res.headers());
  });
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => {
      try {
        wsFrames.push(JSON.parse(String(f.payload)));
      } catch {
        // Not JSON: not ours to check.
      }
    });
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (mediaDir) await rm(mediaDir, { recursive: true, force: true });
});

describe('web app in a real browser', () => {
  it('signs up', async () => {
    await signUpInBrowser(page, server.url, 'casey@example.com', () => shot('01-sign-up'));
    await page.getByRole('heading', { name: 'Upload videos' }).waitFor();
    expect(await page.getByTestId('credits-balance').textContent()).toMatch(/^\d+$/);
    // The session is an HttpOnly cookie: nothing a script on the page could read or send away.
    const seen = await page.evaluate(() => ({
      storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
      cookie: document.cookie,
    }));
    expect(seen.storage).not.toMatch(/cdk_|cdp_|token/i);
    expect(seen.cookie).not.toContain('clipdock_token');
    const session = (await context.cookies()).find((c) => c.name === 'clipdock_token');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    // Marks this page load: if the page reloads, the mark is gone.
    await page.evaluate(() => {
      (window as unknown as { __sameLoad: boolean }).__sameLoad = true;
    });
  });

  it('refuses the fake in the browser and uploads four videos in parallel, each on its own bar', async () => {
    await throttle(120 * 1024);
    const files = [media.mp4, media.mov, media.hevc, media.webm, media.fake];
    await page.getByTestId('file-input').setInputFiles(files);

    const fake = row(names(media.fake));
    await expect.poll(() => fake.getAttribute('data-state')).toBe('refused');
    expect(await fake.getByTestId('row-reason').textContent()).toMatch(/not a video/i);

    // Several named bars in flight at once (concurrency 3).
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=upload-row][data-state=uploading]').length >= 2,
      undefined,
      { timeout: 30_000 },
    );
    for (const f of files.slice(0, 4)) {
      expect(
        await row(names(f))
          .getByRole('progressbar', { name: `Upload of ${names(f)}` })
          .count(),
      ).toBe(1);
    }
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-testid=upload-row] [role=progressbar]')].some(
          (b) => Number(b.getAttribute('aria-valuenow')) >= 25,
        ),
      undefined,
      { timeout: 30_000 },
    );
    await shot('02-uploading');
    await page.locator('.upload-panel').screenshot({ path: path.join(artifactsDir, 'readme-upload.png') });
    for (const f of files.slice(0, 4)) {
      await row(names(f)).and(page.locator('[data-state=complete]')).waitFor({ timeout: 60_000 });
    }
    await throttle(-1);
    expect(await page.getByTestId('overall-count').textContent()).toBe('4 of 4 complete');
  });

  it('shows all four reaching Ready through the socket, without a reload', async () => {
    for (const f of [media.mp4, media.mov, media.hevc, media.webm]) {
      await item('ready', names(f)).waitFor({ timeout: 240_000 });
    }
    expect(await page.evaluate(() => (window as unknown as { __sameLoad?: boolean }).__sameLoad)).toBe(true);
    expect(wsFrames.some((f) => f.type === 'video.status' && f.status === 'ready')).toBe(true);
    await shot('03-dashboard-ready');
    await page.locator('.status-board').screenshot({ path: path.join(artifactsDir, 'readme-dashboard.png') });
  });

  it('previews a ready video: it plays', async () => {
    await page.getByRole('button', { name: `Preview ${names(media.mov)}` }).click();
    const video = page.getByTestId('preview-video');
    await video.waitFor();
    await page.waitForFunction(
      () =>
        ((document.querySelector('[data-testid=preview-video]') as HTMLVideoElement | null)?.currentTime ??
          0) > 0.5,
      undefined,
      { timeout: 30_000 },
    );
    // Hovering the scrubber shows the storyboard picture for that moment.
    const scrubber = page.getByRole('slider', { name: 'Seek' });
    const box = (await scrubber.boundingBox())!;
    await scrubber.hover({ position: { x: box.width * 0.6, y: box.height / 2 } });
    await page.locator('.storyboard-tile').waitFor();
    await shot('04-preview');
    await page.getByRole('button', { name: 'Close preview' }).click();
  });

  it('shows why a video failed on the server, and offers Delete instead of Retry when a retry cannot help', async () => {
    await page.getByTestId('file-input').setInputFiles(media.corrupt);
    const name = names(media.corrupt);
    const failed = item('failed', name);
    await failed.waitFor({ timeout: 120_000 });
    const reason = await failed.getByTestId('failure-reason').textContent();
    expect(reason?.length).toBeGreaterThan(10);
    await shot('05-failed');

    const id = await page.evaluate(async (n) => {
      const res = await fetch('/api/videos?limit=50');
      const body = (await res.json()) as {
        videos: Array<{ id: string; name: string; error: { retryable: boolean } | null }>;
      };
      const v = body.videos.find((x) => x.name === n);
      return v && { id: v.id, retryable: v.error?.retryable };
    }, name);
    expect(id).toEqual({ id: expect.any(String), retryable: false });
    // A damaged file fails the same way every time: no Retry, but Delete (after a confirmation).
    expect(await failed.getByRole('button', { name: `Retry ${name}` }).count()).toBe(0);
    await failed.getByRole('button', { name: `Delete ${name}` }).click();
    await failed
      .getByRole('group', { name: `Confirm delete of ${name}` })
      .getByRole('button', { name: 'Keep it' })
      .click();

    // A second copy is deleted from its card (the first stays for the library test below).
    const copy = path.join(path.dirname(media.corrupt), 'broken-camera-copy.mp4');
    await copyFile(media.corrupt, copy);
    await page.getByTestId('file-input').setInputFiles(copy);
    const copyName = names(copy);
    const copied = item('failed', copyName);
    await copied.waitFor({ timeout: 120_000 });
    await copied.getByRole('button', { name: `Delete ${copyName}` }).click();
    await copied
      .getByRole('group', { name: `Confirm delete of ${copyName}` })
      .getByRole('button', { name: 'Delete' })
      .click();
    await copied.waitFor({ state: 'detached', timeout: 30_000 });
    await failed.waitFor();
  });

  it('shows a banner when the network drops, then resumes the upload and completes it', async () => {
    await throttle(3 * 1024 * 1024);
    await page.getByTestId('file-input').setInputFiles(media.big1);
    const r = row(names(media.big1));
    await page.waitForFunction(
      (n) => {
        const bar = document.querySelector(`[data-testid=upload-row][data-name="${n}"] [role=progressbar]`);
        return Number(bar?.getAttribute('aria-valuenow')) >= 10;
      },
      names(media.big1),
      { timeout: 60_000 },
    );
    // Drop our DevTools session first: while attached, its network conditions (the throttle)
    // override the context's offline mode. The upload is mid-file, so going offline right after
    // still cuts it.
    await cdp.detach();
    await context.setOffline(true);
    try {
      const banner = page.getByTestId('offline-banner');
      await banner.waitFor({ timeout: 30_000 });
      expect(await banner.textContent()).toContain('Connection lost — uploads will resume automatically');
      await expect.poll(() => r.getAttribute('data-state'), { timeout: 30_000 }).toBe('offline');
      await shot('06-offline');
    } finally {
      await context.setOffline(false);
      cdp = await context.newCDPSession(page);
    }
    await r.and(page.locator('[data-state=complete]')).waitFor({ timeout: 120_000 });
    // While it processes, a click shows its live status in place (the screenshot is best effort:
    // a fast machine may finish processing first).
    await item('processing', names(media.big1))
      .locator('button')
      .click({ timeout: 15_000 })
      .then(() => page.locator('.steps').waitFor({ timeout: 5_000 }))
      .then(() => shot('06b-processing-in-place'))
      .then(() =>
        page.locator('.status-board').screenshot({ path: path.join(artifactsDir, 'readme-dashboard.png') }),
      )
      .catch(() => {});
    await page.getByTestId('offline-banner').waitFor({ state: 'detached' });
  });

  it('continues an upload after a reload from the server offset, once the file is picked again', async () => {
    await throttle(3 * 1024 * 1024);
    const name = names(media.big2);
    await page.getByTestId('file-input').setInputFiles(media.big2);
    // Wait until at least one 10 MiB chunk is stored on the server.
    await page.waitForFunction(
      (n) => {
        const all = JSON.parse(localStorage.getItem('clipdock.uploads.v1') ?? '{}') as Record<
          string,
          { name: string; bytesSent: number }
        >;
        return Object.values(all).some((r) => r.name === n && r.bytesSent > 0);
      },
      name,
      { timeout: 60_000 },
    );
    await page.reload();
    await throttle(-1);
    const r = row(name);
    await expect.poll(() => r.getAttribute('data-state'), { timeout: 30_000 }).toBe('awaiting_file');
    await shot('07-interrupted');

    const patchOffsets: number[] = [];
    const headOffsets: number[] = [];
    page.on('request', (req) => {
      if (req.method() === 'PATCH') patchOffsets.push(Number(req.headers()['upload-offset']));
    });
    page.on('response', (res) => {
      if (res.request().method() === 'HEAD') headOffsets.push(Number(res.headers()['upload-offset']));
    });
    await page.getByTestId('file-input').setInputFiles(media.big2);
    await r.and(page.locator('[data-state=complete]')).waitFor({ timeout: 120_000 });
    expect(headOffsets[0]).toBeGreaterThan(0);
    expect(patchOffsets[0]).toBe(headOffsets[0]);
    expect(patchOffsets.every((o) => o > 0)).toBe(true);
    expect(await r.getByTestId('resumed-from').textContent()).toMatch(/resumed at/);
  });

  it('adds clips to the timeline, reorders them by keyboard, and the order survives a reload', async () => {
    const a = names(media.mp4);
    const b = names(media.webm);
    await page
      .getByRole('button', { name: `Add ${a} to timeline` })
      .first()
      .click();
    await page
      .getByRole('button', { name: `Add ${b} to timeline` })
      .first()
      .click();
    await page.getByRole('link', { name: 'Timeline' }).click();
    const order = () =>
      page.getByTestId('timeline-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
    // Each add is a round trip to the server: on a loaded machine one takes more than a second.
    await expect.poll(order, { timeout: 20_000 }).toEqual([a, b]);
    await page.getByTestId('timeline-item').nth(1).focus();
    await page.keyboard.press('Alt+ArrowUp');
    await expect.poll(order, { timeout: 20_000 }).toEqual([b, a]);
    await page.getByText(/saved/).waitFor();
    await shot('08-timeline');
    // The sequence preview plays clip after clip.
    await page.getByRole('button', { name: 'Play sequence' }).click();
    await page.getByText(`Clip 2 of 2 · ${a}`).waitFor({ timeout: 30_000 });
    await page.reload();
    await expect.poll(order, { timeout: 20_000 }).toEqual([b, a]);
  });

  it('renames and deletes in the library (with an in-page confirmation), and switches to a new project', async () => {
    await page.getByRole('link', { name: 'Library' }).click();
    await page.getByTestId('library-tile').first().waitFor();
    await shot('09-library');
    const tiles = () =>
      page.getByTestId('library-tile').evaluateAll((els) => els.map((e) => e.textContent ?? ''));
    await page.getByLabel('Search videos by name').fill('drone');
    await expect.poll(tiles).toEqual([expect.stringContaining(names(media.hevc))]);
    await page.getByLabel('Search videos by name').fill('');
    await page.getByRole('button', { name: 'Failed', exact: true }).click();
    await expect.poll(tiles).toEqual([expect.stringContaining(names(media.corrupt))]);
    await page.getByRole('button', { name: 'All', exact: true }).click();
    await expect.poll(async () => (await tiles()).length).toBeGreaterThan(5);
    const broken = names(media.corrupt);
    await page.getByRole('button', { name: new RegExp(`^${broken.replace('.', '\\.')}`) }).click();
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByLabel('New name').fill('camera card copy.mp4');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'camera card copy.mp4' }).waitFor();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('group', { name: 'Confirm delete' }).waitFor();
    await shot('09b-confirm-delete');
    await page.getByRole('group', { name: 'Confirm delete' }).getByRole('button', { name: 'Delete' }).click();
    await expect
      .poll(() => page.getByTestId('library-tile').evaluateAll((els) => els.map((e) => e.textContent ?? '')))
      .not.toContainEqual(expect.stringContaining('camera card copy'));

    await page.getByRole('button', { name: 'New project' }).click();
    await page.getByLabel('New project name').fill('Holiday cut');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await expect.poll(() => page.locator('#project-select option:checked').textContent()).toBe('Holiday cut');
    await page.getByText('No videos yet.').waitFor();

    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Upload & processing' }).click();
    await page.locator('#project-select').selectOption({ label: 'My videos' });
    await item('ready', names(media.mp4)).waitFor();
    await shot('10-narrow');
  });

  it('ran every step under the security headers, and the browser blocked nothing', () => {
    expect(documentHeaders.length).toBeGreaterThan(0);
    for (const h of documentHeaders) {
      expect(h['content-security-policy']).toContain("script-src 'self'");
      expect(h['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(h['x-content-type-options']).toBe('nosniff');
      expect(h['referrer-policy']).toBe('no-referrer');
    }
    expect(cspViolations).toEqual([]);
  });
});
