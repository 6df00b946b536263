import { randomUUID } from 'node:crypto';
import { mkdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../src/storage/object-store.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { defaultProjectId } from '../live/helpers.ts';
import { artifactsDir, ensureWebBuilt, launchBrowser, signUpInBrowser } from './harness.ts';

/**
 * The admin page in the web app: visible to the administrator only (the first account here),
 * a dry run that reports an orphaned stored file without touching it, a run that deletes it,
 * both listed with their counts and details, and the storage audit table. An API-only node.
 */
let server: TestServer;
let browser: Browser;
let page: Page;
const ADMIN = 'ada@example.com';

beforeAll(async () => {
  await Promise.all([ensureWebBuilt(), mkdir(artifactsDir, { recursive: true })]);
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const storeFile = (key: string) => path.join(server.dataDir, 'storage', key);

describe('the admin page', () => {
  const orphan = randomUUID();

  it('shows cleanup runs and the storage audit to the administrator', { timeout: 120_000 }, async () => {
    await signUpInBrowser(page, server.url, ADMIN);
    const db = server.node.ctx.db;
    const admin = await db
      .selectFrom('users')
      .select('id')
      .where('email', '=', ADMIN)
      .executeTakeFirstOrThrow();
    // A ready video of the admin's (for the audit), and stored bytes of no video, two hours old.
    const v = await db
      .insertInto('videos')
      .values({
        user_id: admin.id,
        project_id: await defaultProjectId(db, admin.id),
        name: 'ready.mp4',
        status: 'ready',
        declared_size: 3 * 1024 * 1024,
        received_bytes: 3 * 1024 * 1024,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('video_analysis')
      .values({
        video_id: v.id,
        checkpoint: '{}',
        output_sizes: JSON.stringify({ [keys.output(v.id, 'video.mp4')]: 1024 * 1024 }),
      })
      .execute();
    await db
      .updateTable('videos')
      .set({ storage_key: keys.original(v.id) })
      .where('id', '=', v.id)
      .execute();
    await server.node.ctx.store.put(keys.original(v.id), Buffer.alloc(1024));
    await server.node.ctx.store.put(keys.original(orphan), Buffer.alloc(4096, 7));
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(storeFile(keys.original(orphan)), old, old);

    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByText('No cleanup has run yet.').waitFor();
    const audit = page.getByTestId('storage-audit');
    const row = audit.getByTestId('storage-row').filter({ hasText: ADMIN });
    await row.waitFor();
    expect(await row.locator('td').allTextContents()).toEqual([
      ADMIN,
      expect.any(String),
      '1',
      expect.stringMatching(/^3(\.0)? MB$/),
      expect.stringMatching(/^1(\.0)? MB$/),
      expect.stringMatching(/^0/),
      '1',
      '0',
      '0',
      '0',
    ]);

    // Dry run: the orphan is reported, and still there.
    await page.getByRole('button', { name: 'Dry run' }).click();
    const dry = page.locator('[data-testid=cleanup-run][data-type=dry_run]');
    await dry.waitFor();
    const item = page.getByTestId('cleanup-item').filter({ hasText: orphan });
    await item.waitFor();
    expect(await item.getAttribute('data-outcome')).toBe('would_repair');
    expect(await item.textContent()).toContain('would repair');
    expect(await server.node.ctx.store.head(keys.original(orphan))).toBeDefined();
    await page.screenshot({ path: path.join(artifactsDir, 'admin-1-dry-run.png'), fullPage: true });

    // Run now: repaired, and gone.
    await page.getByRole('button', { name: 'Run now' }).click();
    const repair = page.locator('[data-testid=cleanup-run][data-type=repair]');
    await repair.waitFor();
    expect(await repair.getByTestId('run-repaired').textContent()).toBe('1');
    const repaired = page.getByTestId('cleanup-item').filter({ hasText: orphan });
    await repaired.waitFor();
    expect(await repaired.getAttribute('data-outcome')).toBe('repaired');
    expect(await server.node.ctx.store.head(keys.original(orphan))).toBeUndefined();
    // Both runs are listed, newest first.
    expect(
      await page
        .getByTestId('cleanup-run')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-type'))),
    ).toEqual(['repair', 'dry_run']);
    await page.screenshot({ path: path.join(artifactsDir, 'admin-2-repaired.png'), fullPage: true });
  });

  it('is not offered to anyone else, and /admin shows them their dashboard', {
    timeout: 120_000,
  }, async () => {
    // Another person in this browser (one context: the test Chromium runs single-process).
    await page.context().clearCookies();
    await signUpInBrowser(page, server.url, 'bob@example.com');
    expect(await page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await page.goto(`${server.url}/admin`);
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    await page.getByTestId('processing-section').waitFor();
    expect(await page.getByTestId('cleanup-runs').count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    // And the API refuses them, whatever the page shows.
    const status = await page.evaluate(() => fetch('/api/admin/cleanup-runs').then((r) => r.status));
    expect(status).toBe(403);
  });
});
