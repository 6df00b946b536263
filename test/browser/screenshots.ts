/**
 * Refreshes the README's screenshots of the web app (docs/web-upload.png, docs/web-dashboard.png)
 * from a real node and real media: `npm run screenshots`. Not a test: it asserts nothing and is
 * run by hand when the web app's looks change. Uses DATABASE_URL when set (a scratch database:
 * it is migrated and written to), else an embedded PostgreSQL under a temporary data dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { Page } from 'playwright-core';
import { loadConfig } from '../../src/config.ts';
import { startClipdock } from '../../src/server.ts';
import { ensureWebBuilt, launchBrowser, makeMedia, repoRoot, signUpInBrowser } from './harness.ts';

const docs = path.join(repoRoot, 'docs');

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  console.warn(`screenshots: gave up waiting for ${what}; taking the picture as it is`);
  return false;
}

const count = (page: Page, selector: string) => page.locator(selector).count();

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-screenshots-'));
  const [media] = await Promise.all([makeMedia(path.join(dataDir, 'media')), ensureWebBuilt()]);
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    CLIPDOCK_DATA_DIR: dataDir,
    WORKER_CONCURRENCY: '1',
    LOG_LEVEL: 'silent',
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  });
  const node = await startClipdock(config, pino({ level: 'silent' }));
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signUpInBrowser(page, node.url!, 'maria@example.com');
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 2 * 1024 * 1024,
    });

    // Upload: several files at once, bars and speeds moving, the fake refused on its row.
    await page
      .getByTestId('file-input')
      .setInputFiles([media.mp4, media.mov, media.webm, media.fake, media.big1, media.big2, media.corrupt]);
    await until(
      'two uploads in flight with a speed',
      async () =>
        (await count(page, '[data-testid=upload-row][data-state=uploading]')) >= 2 &&
        (await count(page, '[data-testid=upload-row][data-state=refused]')) === 1 &&
        (await page
          .locator('[data-testid=upload-row][data-state=uploading]')
          .first()
          .textContent())!.includes('/s'),
      60_000,
    );
    await page.locator('.upload-panel').screenshot({ path: path.join(docs, 'web-upload.png') });

    // Dashboard: one video processing (its step in words), ready clips, a failure with its reason.
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: -1,
    });
    await until(
      'ready clips, a failure and one processing',
      async () =>
        (await count(page, '[data-testid=ready-section] [data-testid=video-item]')) >= 2 &&
        (await count(page, '[data-testid=failed-section] [data-testid=video-item]')) >= 1 &&
        (await count(
          page,
          '[data-testid=processing-section] [data-testid=video-item][data-status=processing]',
        )) >= 1,
      300_000,
    );
    await page.getByRole('button', { name: 'Clear finished' }).click();
    await page.screenshot({ path: path.join(docs, 'web-dashboard.png'), fullPage: true });
    console.log('screenshots: wrote docs/web-upload.png and docs/web-dashboard.png');
  } finally {
    await browser.close();
    await node.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
