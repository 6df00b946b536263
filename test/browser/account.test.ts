import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { artifactsDir, ensureWebBuilt, launchBrowser, signUpInBrowser } from './harness.ts';

/**
 * The account's security in the web app: the cookie session survives a reload, API tokens are
 * created (shown once), listed with their last use and revoked, a sign-out from elsewhere ends
 * the app's session, and "Sign out everywhere" and "Sign out" revoke sessions on the server,
 * not just in this tab. An API-only node.
 */
let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const EMAIL = 'kim@example.com';
const PASSWORD = 'correct horse battery';

beforeAll(async () => {
  await Promise.all([ensureWebBuilt(), mkdir(artifactsDir, { recursive: true })]);
  // Live sockets' credentials are re-checked every ping round: a second here.
  server = await startTestServer({ CLIPDOCK_ROLE: 'api', LIVE_PING_INTERVAL_SECONDS: '1' });
  browser = await launchBrowser();
  context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  page = await context.newPage();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const meWith = (headers: Record<string, string>) =>
  fetch(`${server.url}/api/me`, { headers }).then((r) => r.status);
async function signInThroughForm(p: Page): Promise<void> {
  await p.getByRole('tab', { name: 'Sign in' }).click();
  await p.getByLabel('Email').fill(EMAIL);
  await p.getByLabel('Password').fill(PASSWORD);
  await p.getByRole('button', { name: 'Sign in' }).last().click();
  await p.locator('.conn.ok').waitFor({ timeout: 15_000 });
}
/** A sign-in from elsewhere (a script, another device) of the same account: its login token. */
async function loginToken(): Promise<string> {
  const res = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
  });
  return ((await res.json()) as { token: string }).token;
}
const sessionCookie = async () => {
  const c = (await context.cookies()).find((x) => x.name === 'clipdock_token');
  if (!c) throw new Error('no session cookie');
  return `${c.name}=${c.value}`;
};

describe('account security in the web app', () => {
  it('keeps the cookie session across a reload (nothing in localStorage)', async () => {
    await signUpInBrowser(page, server.url, EMAIL);
    await page.reload();
    await page.locator('.conn.ok').waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => localStorage.getItem('clipdock.token'))).toBeNull();
  });

  it('creates an API token shown once, lists its last use, and revokes it', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByText('No API tokens yet.').waitFor();
    await page.getByLabel('Token name').fill('backup script');
    await page.getByRole('button', { name: 'Create token' }).click();
    const shown = page.getByLabel('New API token');
    const token = await shown.inputValue();
    expect(token).toMatch(/^cdp_/);
    await page.screenshot({ path: path.join(artifactsDir, 'a1-api-token-created.png') });

    const row = page.locator('[data-testid=api-token][data-name="backup script"]');
    expect(await row.getByTestId('token-last-used').textContent()).toBe('never');
    expect(await meWith({ authorization: `Bearer ${token}` })).toBe(200);
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.content()).not.toContain(token);
    // Shown once: a fresh view of the page lists the token without it, with its last use.
    await page.reload();
    await expect
      .poll(() => row.getByTestId('token-last-used').textContent(), { timeout: 15_000 })
      .not.toBe('never');
    expect(await page.content()).not.toContain(token);

    await row.getByRole('button', { name: 'Revoke backup script' }).click();
    await row.waitFor({ state: 'detached' });
    expect(await meWith({ authorization: `Bearer ${token}` })).toBe(401);
  });

  it('leaves the app when its session is signed out from another device (the server ends its socket)', async () => {
    const cookie = await sessionCookie();
    const token = await loginToken();
    const out = await fetch(`${server.url}/api/auth/logout-all`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(out.status).toBe(200);
    await page.getByRole('button', { name: 'Create account' }).first().waitFor({ timeout: 20_000 });
    expect(await meWith({ cookie })).toBe(401);
  });

  it('signs out everywhere from Settings: this browser and every login token, on the server', async () => {
    await signInThroughForm(page);
    const token = await loginToken();
    expect(await meWith({ authorization: `Bearer ${token}` })).toBe(200);
    const cookie = await sessionCookie();

    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    const confirm = page.getByRole('group', { name: 'Confirm sign out everywhere' });
    await confirm.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.getByRole('button', { name: 'Create account' }).first().waitFor();
    expect(await meWith({ authorization: `Bearer ${token}` })).toBe(401);
    expect(await meWith({ cookie })).toBe(401);
  });

  it('signs in again, and Sign out revokes that session on the server', async () => {
    await signInThroughForm(page);
    const cookie = await sessionCookie();
    expect(await meWith({ cookie })).toBe(200);
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.getByRole('button', { name: 'Create account' }).first().waitFor();
    // A copy of the cookie taken before is worthless now.
    expect(await meWith({ cookie })).toBe(401);
  });
});
