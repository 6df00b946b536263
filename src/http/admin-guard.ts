import { isAdmin } from '../accounts/admins.ts';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { userOf } from './auth.ts';
import type { App } from './route-module.ts';

/** Every route under this prefix is for administrators only. */
export const ADMIN_PREFIX = '/api/admin/';

/**
 * The one admin guard: a prefix hook, so no admin route can be added without it. It runs after
 * the token check (installed after it, same hook), so the caller is known; anyone who is not an
 * administrator (ADMIN_EMAILS, or the first account) gets 403 ADMIN_ONLY.
 */
export function installAdminGuard(app: App, ctx: AppContext): void {
  app.addHook('preHandler', async (req) => {
    if (req.routeOptions.url === undefined || !req.routeOptions.url.startsWith(ADMIN_PREFIX)) return;
    if (!(await isAdmin(ctx.db, ctx.config.abuse.adminEmails, userOf(req)))) throw new AppError('ADMIN_ONLY');
  });
}
