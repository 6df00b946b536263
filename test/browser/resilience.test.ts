import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
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
 * The app when things go wrong outside the browser: the live socket drops (the header says
 * "Reconnecting…" and the app reconnects by itself), and the server refuses a batch (credits).
 */
let server: TestServer;
let browser: Browser;
let page: Page;
let media: TestMedia;
let mediaDir: string;
const sockets: WebSocketRoute[] = [];
/** While true, the "network" refuses the app's socket, as a server out of reach would. */
let refuseSockets = false;

beforeAll(async () => {
  mediaDir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-browser-media-'));
  [media] = await Promise.all([
    makeMedia(mediaDir),
    ensureWebBuilt(),
    mkdir(artifactsDir, { recursive: true }),
  ]);
  // Credits for exactly two videos.
  server = await startTestServer({ STARTING_CREDITS: '20', CREDITS_PER_VIDEO: '10' });
  browser = await launchBrowser();
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  page = await context.newPage();
  // A reload mid-upload asks "leave the page?" (beforeunload): these steps mean to leave.
  page.on('dialog', (d) => void d.accept());
  // Every app socket passes through here, so the test can cut it as a flaky network would.
  await page.routeWebSocket(/\/api\/ws/, (ws) => {
    if (refuseSockets) {
      void ws.close({ code: 1013, reason: 'test: unreachable' });
      return;
    }
    ws.connectToServer();
    sockets.push(ws);
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (mediaDir) await rm(mediaDir, { recursive: true, force: true });
});

describe('web app when the outside world fails', () => {
  it('shows "Reconnecting…" when the live socket drops, and reconnects by itself', async () => {
    await signUpInBrowser(page, server.url, 'robin@example.com');
    expect(sockets).toHaveLength(1);

    await sockets[0]!.close({ code: 1012, reason: 'test: network blip' });
    await page.getByText('Reconnecting…').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: path.join(artifactsDir, 'r1-reconnecting.png') });
    await page.locator('.conn.ok').waitFor({ timeout: 30_000 });
    expect(sockets.length).toBeGreaterThanOrEqual(2);
  });

  it('shows the server’s reason on every row when it refuses a batch, and uploads what fits after', async () => {
    await page.getByTestId('file-input').setInputFiles([media.mp4, media.mov, media.hevc]);
    for (const f of [media.mp4, media.mov, media.hevc]) {
      const row = page.locator(`[data-testid=upload-row][data-name="${path.basename(f)}"]`);
      await expect.poll(() => row.getAttribute('data-state')).toBe('failed');
      expect(await row.getByTestId('row-reason').textContent()).toMatch(/credits/i);
    }
    await page.screenshot({ path: path.join(artifactsDir, 'r2-refused-batch.png') });

    // The same file alone fits: Retry asks for a new session for it.
    const mp4 = path.basename(media.mp4);
    await page.getByRole('button', { name: `Retry ${mp4}` }).click();
    await page
      .locator(`[data-testid=upload-row][data-name="${mp4}"][data-state=complete]`)
      .waitFor({ timeout: 60_000 });
    await page.locator(`[data-testid=ready-section] [data-name="${mp4}"]`).waitFor({ timeout: 120_000 });
  });

  it('lists an upload the server knows but this browser lost track of, and continues it from the server offset', async () => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 3 * 1024 * 1024,
    });
    const name = path.basename(media.big1);
    await page.getByTestId('file-input').setInputFiles(media.big1);
    await page.waitForFunction(
      (n) =>
        Object.values(
          JSON.parse(localStorage.getItem('clipdock.uploads.v1') ?? '{}') as Record<
            string,
            { name: string; bytesSent: number }
          >,
        ).some((r) => r.name === n && r.bytesSent > 0),
      name,
      { timeout: 60_000 },
    );
    // As if the upload had been started from another browser: no local record survives.
    await page.evaluate(() => localStorage.removeItem('clipdock.uploads.v1'));
    await page.reload();
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    const row = page.locator(`[data-testid=upload-row][data-name="${name}"]`);
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('awaiting_file');

    const patchOffsets: number[] = [];
    page.on('request', (req) => {
      if (req.method() === 'PATCH') patchOffsets.push(Number(req.headers()['upload-offset']));
    });
    await page.getByTestId('file-input').setInputFiles(media.big1);
    await row.and(page.locator('[data-state=complete]')).waitFor({ timeout: 120_000 });
    expect(patchOffsets[0]).toBeGreaterThan(0);
  });

  it('drops a processing video that was deleted while its socket was down', async () => {
    const { user } = (await (await page.request.get(`${server.url}/api/me`)).json()) as {
      user: { id: string };
    };
    const db = server.node.ctx.db;
    const project = await db
      .selectFrom('projects')
      .select('id')
      .where('user_id', '=', user.id)
      .where('is_default', '=', true)
      .executeTakeFirstOrThrow();
    const ghost = await db
      .insertInto('videos')
      .values({
        user_id: user.id,
        project_id: project.id,
        name: 'ghost.mp4',
        status: 'processing',
        declared_size: 1000,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    // A reconnect shows it (the state on connect includes every unfinished video)...
    await sockets.at(-1)!.close({ code: 1012, reason: 'test: blip' });
    const item = page.locator('[data-testid=processing-section] [data-name="ghost.mp4"]');
    await item.waitFor({ timeout: 30_000 });
    await page.locator('.conn.ok').waitFor({ timeout: 30_000 });

    // ...then the socket goes down, and the video is deleted meanwhile: its event reaches no one.
    refuseSockets = true;
    await sockets.at(-1)!.close({ code: 1012, reason: 'test: network down' });
    await page.getByText('Reconnecting…').waitFor({ timeout: 10_000 });
    // Sent by the page (the session cookie is accepted from the app's own origin only).
    const deleted = await page.evaluate(
      async (id) => (await fetch(`/api/videos/${id}`, { method: 'DELETE' })).status,
      ghost.id,
    );
    expect(deleted).toBe(204);
    refuseSockets = false;
    await page.locator('.conn.ok').waitFor({ timeout: 60_000 });
    await item.waitFor({ state: 'detached', timeout: 10_000 });
  });
});
