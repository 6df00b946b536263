import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes } from '../../web/src/format.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bins } from '../media/fixtures.ts';
import { artifactsDir, ensureWebBuilt, launchBrowser, signUpInBrowser } from './harness.ts';

/**
 * Honest figures and a timeline that remembers: the storage meter counts a ready video's outputs
 * beside its original; "On timeline" survives a reload and adds nothing twice; an out point past
 * the clip's end is refused with the server's reason (the header never says "saved"); pausing by
 * keyboard keeps focus where it was. A full node (API + worker, real ffmpeg).
 */
const run = promisify(execFile);
let server: TestServer;
let browser: Browser;
let page: Page;
let dir: string;
let clip: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-timeline-honest-'));
  clip = path.join(dir, 'harbour.mp4');
  await Promise.all([
    run(
      bins.ffmpeg,
      [
        ...['-hide_banner', '-loglevel', 'error', '-y'],
        ...['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=15:duration=3'],
        ...['-f', 'lavfi', '-i', 'sine=frequency=440:duration=3'],
        ...['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', clip],
      ],
      { maxBuffer: 1 << 24 },
    ),
    ensureWebBuilt(),
    mkdir(artifactsDir, { recursive: true }),
  ]);
  server = await startTestServer({ WORKER_CONCURRENCY: '1' });
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const name = 'harbour.mp4';
const shot = (n: string) => page.screenshot({ path: path.join(artifactsDir, `${n}.png`), fullPage: true });
const me = () =>
  page.evaluate(async () => (await (await fetch('/api/me')).json()) as { storage: { usedBytes: number } });

describe('honest figures and a timeline that remembers', () => {
  it('counts the outputs of a ready video in the storage meter', { timeout: 180_000 }, async () => {
    await signUpInBrowser(page, server.url, 'lin@example.com');
    await page.getByTestId('file-input').setInputFiles(clip);
    await page.locator(`[data-testid=ready-section] [data-name="${name}"]`).waitFor({ timeout: 150_000 });
    const size = (await stat(clip)).size;
    const used = (await me()).storage.usedBytes;
    expect(used).toBeGreaterThan(size);
    await expect
      .poll(() => page.getByTestId('storage-used').textContent(), { timeout: 15_000 })
      .toMatch(new RegExp(`^${formatBytes(used).replace('.', '\\.')} of`));
  });

  it('remembers "On timeline" after a reload and adds nothing twice', async () => {
    const ready = page.locator(`[data-testid=ready-section] [data-name="${name}"]`);
    await ready.getByRole('button', { name: `Add ${name} to timeline` }).click();
    const on = ready.getByRole('button', { name: `${name} is on the timeline` });
    await on.waitFor();
    await page.reload();
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    await on.waitFor({ timeout: 15_000 });
    expect(await on.isDisabled()).toBe(true);
    expect(await on.textContent()).toMatch(/On timeline/);
    const items = await server.node.ctx.db.selectFrom('timeline_items').select('video_id').execute();
    expect(items).toHaveLength(1);
    await shot('th1-on-timeline');
  });

  it('refuses an out point past the clip’s end with the server’s reason; the header says "Not saved"', async () => {
    await page.getByRole('link', { name: 'Timeline' }).click();
    await page.getByTestId('timeline-item').first().waitFor();
    const out = page.getByLabel(`Out point of ${name}, seconds`);
    await out.fill('999');
    await out.press('Enter');
    const error = page.getByTestId('timeline-error');
    await error.waitFor({ timeout: 15_000 });
    expect(await error.textContent()).toMatch(/inside the clip/);
    const header = page.locator('#timeline-title').locator('xpath=..');
    await expect.poll(() => header.textContent()).toMatch(/Not saved/);
    expect(await header.textContent()).not.toMatch(/· saved/);
    // The field shows what is stored again (no out point), not the refused value.
    await expect.poll(() => out.inputValue()).toBe('');
    const stored = await server.node.ctx.db.selectFrom('timeline_items').select('out_seconds').execute();
    expect(stored).toEqual([{ out_seconds: null }]);
    await shot('th2-timeline-error');

    // A valid edit saves, and the error goes.
    await out.fill('2');
    await out.press('Enter');
    await error.waitFor({ state: 'detached', timeout: 15_000 });
    await expect.poll(() => header.textContent()).toMatch(/· saved/);
  });

  it('keeps focus where it was when pausing by keyboard', async () => {
    const video = page.getByTestId('sequence-video');
    await video.focus();
    await page.keyboard.press(' ');
    const toggle = page.getByRole('button', { name: /Pause|Play sequence/ });
    await expect.poll(() => toggle.textContent()).toMatch(/Pause/);
    await page.keyboard.press(' ');
    await expect.poll(() => toggle.textContent()).toMatch(/Play sequence/);
    expect(await video.evaluate((el) => document.activeElement === el)).toBe(true);

    // From the sequence button: Enter plays and pauses, and the button keeps focus.
    await toggle.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => toggle.textContent()).toMatch(/Pause/);
    await page.keyboard.press('Enter');
    await expect.poll(() => toggle.textContent()).toMatch(/Play sequence/);
    expect(await toggle.evaluate((el) => document.activeElement === el)).toBe(true);
  });
});
