import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { artifactsDir, ensureWebBuilt, launchBrowser, makeMedia, signUpInBrowser } from './harness.ts';

/**
 * The upload manager does not leak: after a 20-file batch is uploaded and cleared, a second
 * batch of 20 leaves the page with the same heap, DOM nodes and event listeners (within slack
 * for V8's own caches). An API-only node, so nothing is processed meanwhile.
 */
let server: TestServer;
let browser: Browser;
let page: Page;
let cdp: CDPSession;
let dir: string;
let files: string[][];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-browser-hygiene-'));
  const [media] = await Promise.all([
    makeMedia(dir),
    ensureWebBuilt(),
    mkdir(artifactsDir, { recursive: true }),
  ]);
  files = await Promise.all(
    [0, 1].map((batch) =>
      Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const f = path.join(dir, `batch${batch}-clip${String(i).padStart(2, '0')}.mp4`);
          await copyFile(media.mp4, f);
          return f;
        }),
      ),
    ),
  );
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
  cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function metrics(): Promise<Record<string, number>> {
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(metrics.map((m) => [m.name, m.value]));
}

async function uploadBatch(batch: string[]): Promise<void> {
  await page.getByTestId('file-input').setInputFiles(batch);
  await page.getByText(`${batch.length} of ${batch.length} complete`).waitFor({ timeout: 120_000 });
  await page.getByRole('button', { name: 'Clear finished' }).click();
  await page.getByText(`${batch.length} of ${batch.length} complete`).waitFor({ state: 'detached' });
  // The uploaded videos now wait on the dashboard; delete them (as the library would) so the page
  // is back to the state it had before the batch, and leaks are all that can remain.
  const list = (await (await page.request.get(`${server.url}/api/videos?limit=200`)).json()) as {
    videos: Array<{ id: string }>;
  };
  for (const v of list.videos) expect(await deleteFromPage(v.id)).toBe(204);
  await page.getByText('Nothing is processing.').waitFor({ timeout: 30_000 });
}

/** A delete sent by the page itself: the session cookie is accepted from the app's own origin only. */
const deleteFromPage = (id: string) =>
  page.evaluate(async (videoId) => (await fetch(`/api/videos/${videoId}`, { method: 'DELETE' })).status, id);

describe('web app hygiene', () => {
  it('memory, DOM nodes and listeners do not grow over 20-file batches', { timeout: 300_000 }, async () => {
    await signUpInBrowser(page, server.url, 'hygiene@example.com');

    await uploadBatch(files[0]!);
    const before = await metrics();
    await uploadBatch(files[1]!);
    const after = await metrics();
    await page.screenshot({ path: path.join(artifactsDir, 'h1-after-two-batches.png') });

    const grew = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
    // 20 more uploads done and cleared: what they held (File objects, tus uploads, rows, timers,
    // listeners) must be gone. A leak of each upload's 10 MiB-chunk reader or its row would show
    // as megabytes; the slack is for V8's compiled code and inline caches.
    expect(grew('JSHeapUsedSize'), `heap grew by ${grew('JSHeapUsedSize')} bytes`).toBeLessThan(1024 * 1024);
    expect(grew('JSEventListeners')).toBeLessThanOrEqual(0);
    expect(grew('Nodes')).toBeLessThan(50);
  });
});
