import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { makeScenes, SCENE_CUTS } from '../media/fixtures.ts';
import { artifactsDir, ensureWebBuilt, launchBrowser, signUpInBrowser } from './harness.ts';

/**
 * Ready means playable, in the browser: the dashboard says "Ready · <enrichment step> N %" while
 * the analysis runs, the player fills in the scene marks as they are found, and the line turns
 * to plain "Ready" when the analysis is done — all pushed over the socket, without a reload. The
 * transcription provider is a fake AssemblyAI that holds the transcript until the test lets go,
 * so the running state is on screen for as long as the test looks.
 */
function heldProvider() {
  const state = { release: false };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const json = (v: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (req.url === '/v2/upload') return json({ upload_url: 'https://x/u' });
      if (req.url === '/v2/transcript') return json({ id: 'tr_1', status: 'queued' });
      if (!state.release) return json({ id: 'tr_1', status: 'processing' });
      json({ id: 'tr_1', status: 'completed', text: 'hello', language_code: 'en', words: [] });
    });
  });
  return { server, state };
}

let server: TestServer;
let browser: Browser;
let page: Page;
let dir: string;
let clip: string;
let provider: ReturnType<typeof heldProvider>;
const frames: Array<{ type?: string; status?: string; analysis?: { status: string; step: string | null } }> =
  [];

beforeAll(async () => {
  provider = heldProvider();
  await new Promise<void>((r) => provider.server.listen(0, '127.0.0.1', r));
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-browser-enrich-'));
  [clip] = await Promise.all([makeScenes(dir), ensureWebBuilt(), mkdir(artifactsDir, { recursive: true })]);
  server = await startTestServer({
    ASSEMBLYAI_API_KEY: 'test-key',
    ASSEMBLYAI_BASE_URL: `http://127.0.0.1:${(provider.server.address() as AddressInfo).port}`,
  });
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => {
      try {
        frames.push(JSON.parse(String(f.payload)));
      } catch {
        // Not JSON: not ours.
      }
    });
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((r) => (provider ? provider.server.close(r) : r(undefined)));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('enrichment in the web app', () => {
  it('shows a ready video analysing live, fills the scene marks in, then says Ready, without a reload', {
    timeout: 180_000,
  }, async () => {
    await signUpInBrowser(page, server.url, 'robin@example.com');
    await page.evaluate(() => {
      (window as unknown as { __sameLoad: boolean }).__sameLoad = true;
    });
    await page.getByTestId('file-input').setInputFiles(clip);

    const item = page.locator('[data-testid=ready-section] [data-testid=video-item][data-name="scenes.mp4"]');
    await item.waitFor({ timeout: 120_000 });
    // Ready (playable) while the analysis still runs: held at the transcript.
    const words = item.getByTestId('ready-words');
    await expect.poll(() => words.textContent(), { timeout: 60_000 }).toMatch(/^Ready · transcribing \d+ %$/);
    await page.screenshot({ path: path.join(artifactsDir, 'enrichment-running.png'), fullPage: true });

    // The preview plays, and the scene cuts the analysis found are already on its scrubber.
    await page.getByRole('button', { name: 'Preview scenes.mp4' }).click();
    await page.getByTestId('preview-video').waitFor();
    await expect.poll(() => page.locator('.scene-mark').count(), { timeout: 30_000 }).toBe(SCENE_CUTS.length);
    await page.getByRole('button', { name: 'Close preview' }).click();

    // The transcript arrives: the analysis is done, and the line says so.
    provider.state.release = true;
    await expect.poll(() => words.textContent(), { timeout: 60_000 }).toBe('Ready');
    expect(
      frames.some((f) => f.type === 'video.status' && f.status === 'ready' && f.analysis?.status === 'ready'),
    ).toBe(true);
    expect(frames.some((f) => f.status === 'ready' && f.analysis?.step === 'analyze')).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { __sameLoad?: boolean }).__sameLoad)).toBe(true);
  });
});
