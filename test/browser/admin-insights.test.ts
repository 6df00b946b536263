import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { videoIn } from '../alerts/helpers.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { artifactsDir, ensureWebBuilt, launchBrowser, signUpInBrowser } from './harness.ts';

/**
 * The admin page's alerts and upload analytics sections, under the app's Content Security
 * Policy: the charts render (inline SVG, no inline styles) with no CSP violation reported;
 * "Check now" fires alerts for a failed video and a user at 95 % of the quota, and lists the
 * failure-rate alert as resolved once the failure is gone. An API-only node.
 */
let server: TestServer;
let browser: Browser;
let page: Page;
const cspViolations: string[] = [];
const ADMIN = 'grace@example.com';

beforeAll(async () => {
  await Promise.all([ensureWebBuilt(), mkdir(artifactsDir, { recursive: true })]);
  server = await startTestServer({
    CLIPDOCK_ROLE: 'api',
    ALERT_FAILURE_MIN_COUNT: '1',
    ALERT_DISK_FREE_PERCENT: '0',
    STORAGE_QUOTA_BYTES: '1000000',
  });
  browser = await launchBrowser();
  page = await (await browser.newContext({ viewport: { width: 1200, height: 900 } })).newPage();
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the admin page: alerts and upload analytics', () => {
  it('charts the uploads and lists alerts as they fire and resolve', { timeout: 150_000 }, async () => {
    await signUpInBrowser(page, server.url, ADMIN);
    const db = server.node.ctx.db;
    const heavy = await signUp(server.url);
    for (const bps of [1000, 2000, 4000]) {
      await db
        .insertInto('upload_metrics')
        .values({ user_id: heavy.user.id, size_bytes: 10_000, duration_ms: 1000, bytes_per_second: bps })
        .execute();
    }
    await videoIn(db, heavy.user.id, 'ready', { size: 950_000 });
    const failed = await videoIn(db, heavy.user.id, 'failed', {
      errorCode: 'MEDIA_UNREADABLE',
      stored: true,
    });

    await page.getByRole('link', { name: 'Admin' }).click();
    const alerts = page.getByTestId('alerts');
    await alerts.getByTestId('no-alerts').waitFor();

    const analytics = page.getByTestId('analytics');
    await analytics.getByTestId('chart-uploads').waitFor();
    expect(await analytics.getByTestId('stat-uploads').textContent()).toBe('3');
    // p50 of 1000, 2000, 4000 B/s.
    expect(await analytics.getByTestId('stat-p50').textContent()).toMatch(/^2(\.0)? KB\/s$/);
    expect(await analytics.getByTestId('stat-failure-rate').textContent()).toContain('50.0 %');
    expect(await analytics.getByTestId('chart-uploads').getByTestId('chart-bar').count()).toBe(1);
    const codes = analytics.getByTestId('failures-by-code').getByTestId('bar-row');
    expect(await codes.allTextContents()).toEqual([expect.stringContaining('MEDIA_UNREADABLE')]);
    // Another period reloads the numbers.
    await analytics.getByRole('button', { name: '7 days' }).click();
    await analytics.getByRole('button', { name: '7 days', pressed: true }).waitFor();

    await alerts.getByRole('button', { name: 'Check now' }).click();
    const firing = alerts.getByTestId('alerts-firing');
    await firing.waitFor();
    expect(
      (
        await firing.getByTestId('alert').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-rule')))
      ).sort(),
    ).toEqual(['failure_rate', 'quota']);
    expect(await firing.locator('[data-rule=quota]').textContent()).toContain(heavy.email);
    await page.screenshot({ path: path.join(artifactsDir, 'admin-3-alerts-analytics.png'), fullPage: true });

    await db.deleteFrom('videos').where('id', '=', failed).execute();
    await alerts.getByRole('button', { name: 'Check now' }).click();
    await alerts
      .getByTestId('alerts-history')
      .locator('[data-rule=failure_rate][data-state=resolved]')
      .waitFor();
    expect(await alerts.getByTestId('alerts-firing').getByTestId('alert').count()).toBe(1);

    expect(cspViolations).toEqual([]);
  });
});
