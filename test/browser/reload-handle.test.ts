import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Browser, type Page, chromium as playwright } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/storage/object-store.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { bins } from '../media/fixtures.ts';
import { artifactsDir, ensureWebBuilt, signUpInBrowser } from './harness.ts';

/**
 * A reload mid-upload continues from the kept file handle (web/src/uploads/handles.ts), without
 * picking the file again. Driven in Debian's Chromium (/usr/bin/chromium, installed by .ci/run):
 * the harness's @sparticuz/chromium headless shell crashes its browser process when a
 * FileSystemFileHandle is read back from IndexedDB (any IDB read of a stored handle, with or
 * without --single-process, in a persistent context too), so this path cannot run there.
 */
const SYSTEM_CHROMIUM = '/usr/bin/chromium';
const run = promisify(execFile);
let server: TestServer;
let browser: Browser;
let dir: string;
let file: string;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const row = (page: Page, name: string) => page.locator(`[data-testid=upload-row][data-name="${name}"]`);
const stateOf = (page: Page, name: string) => row(page, name).getAttribute('data-state');

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-reload-handle-'));
  file = path.join(dir, 'handle-take.mp4');
  await Promise.all([
    // Noise does not compress: 3 s of it at 320x240 lossless is a few MB.
    run(
      bins.ffmpeg,
      [
        ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i'],
        'nullsrc=s=320x240:r=25:d=3,format=gray,noise=alls=100:allf=t+u:all_seed=11',
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p', file],
      ],
      { maxBuffer: 1 << 24 },
    ),
    ensureWebBuilt(),
    mkdir(artifactsDir, { recursive: true }),
  ]);
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
  if (!existsSync(SYSTEM_CHROMIUM)) {
    throw new Error(`${SYSTEM_CHROMIUM} is missing: apt-get install chromium (as .ci/run does)`);
  }
  browser = await playwright.launch({
    executablePath: SYSTEM_CHROMIUM,
    args: ['--no-sandbox'],
    headless: true,
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a reload in the middle of an upload', () => {
  it('continues the upload from the kept file handle, without picking the file again', {
    timeout: 180_000,
  }, async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    // A reload mid-upload asks "leave the page?" (beforeunload): this step means to leave.
    page.on('dialog', (d) => void d.accept());
    await signUpInBrowser(page, server.url, 'reload@example.com');
    await page.goto(`${server.url}/?chunkKiB=256`);
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    const size = (await stat(file)).size;
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const upload = (bytesPerSecond: number) =>
      cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: bytesPerSecond,
      });
    await upload(Math.max(256 * 1024, Math.floor(size / 10)));

    // A real drag from the operating system (DevTools input): only such a drop gives handles.
    const zone = await page.locator('.dropzone').boundingBox();
    const at = { x: zone!.x + zone!.width / 2, y: zone!.y + zone!.height / 2 };
    const data = { items: [], files: [file], dragOperationsMask: 1 };
    for (const type of ['dragEnter', 'dragOver', 'drop'] as const)
      await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
    const name = path.basename(file);
    const video = () =>
      server.node.ctx.db
        .selectFrom('videos')
        .select(['id', 'status', 'received_bytes'])
        .where('name', '=', name)
        .executeTakeFirst();
    await expect
      .poll(async () => Number((await video())?.received_bytes ?? 0), { timeout: 60_000 })
      .toBeGreaterThan(0);
    const before = await video();
    expect(Number(before!.received_bytes)).toBeLessThan(size);

    await page.reload();
    const patchOffsets: number[] = [];
    page.on('request', (req) => {
      if (req.method() === 'PATCH') patchOffsets.push(Number(req.headers()['upload-offset']));
    });
    await upload(-1);
    // No file input, no drop, no picker: the row continues by itself and finishes.
    await expect.poll(() => stateOf(page, name), { timeout: 120_000 }).toBe('complete');
    expect(patchOffsets.length).toBeGreaterThan(0);
    expect(patchOffsets[0]).toBeGreaterThan(0);
    expect(await row(page, name).getByTestId('resumed-from').textContent()).toMatch(/resumed at/);
    await page.screenshot({ path: path.join(artifactsDir, 'h1-reload-continued.png'), fullPage: true });

    const after = await video();
    expect(after).toEqual({ id: before!.id, status: 'uploaded', received_bytes: String(size) });
    const candidates = [
      path.join(server.node.ctx.config.uploadsDir, after!.id),
      path.join(server.dataDir, 'storage', keys.original(after!.id)),
    ];
    const storedAt = candidates.find((p) => existsSync(p));
    expect(storedAt, `stored bytes at one of ${candidates.join(', ')}`).toBeDefined();
    expect(sha256(await readFile(storedAt!))).toBe(sha256(await readFile(file)));
    await context.close();
  });
});
