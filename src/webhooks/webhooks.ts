import { randomBytes } from 'node:crypto';
import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { resolveWebhookTarget } from './address-policy.ts';
import { WEBHOOK_EVENTS, type WebhookEvent } from './events.ts';

/**
 * An owner's webhook endpoints: create (the secret is shown once), list, delete. Every query is
 * scoped to its owner: another user's webhook is simply not found.
 */

/** Enough for any integration; a bound on the deliveries one change can fan out to. */
export const MAX_WEBHOOKS_PER_USER = 20;

export interface WebhookDto {
  id: string;
  url: string;
  events: WebhookEvent[];
  projectId: string | null;
  createdAt: string;
}

type WebhookRow = { id: string; url: string; events: string[]; project_id: string | null; created_at: Date };

const present = (r: WebhookRow): WebhookDto => ({
  id: r.id,
  url: r.url,
  events: r.events as WebhookEvent[],
  projectId: r.project_id,
  createdAt: r.created_at.toISOString(),
});

/**
 * The secret, in the Standard Webhooks form: `whsec_` and 24 random bytes in base64. Stored as
 * is (not hashed, unlike API tokens): the worker must sign every delivery with it.
 */
const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

export async function createWebhook(
  ctx: AppContext,
  userId: string,
  input: { url: string; events?: WebhookEvent[]; projectId?: string },
): Promise<WebhookDto & { secret: string }> {
  const target = await resolveWebhookTarget(input.url, {
    allowPrivate: ctx.config.webhooks.allowPrivate,
    timeoutMs: ctx.config.webhooks.timeoutSeconds * 1000,
  });
  const events = input.events?.length ? [...new Set(input.events)] : [...WEBHOOK_EVENTS];
  return ctx.db.transaction().execute(async (tx) => {
    // Serialises one user's creations, so the count below cannot be raced past.
    await tx.selectFrom('users').select('id').where('id', '=', userId).forUpdate().execute();
    if (input.projectId) {
      const project = await tx
        .selectFrom('projects')
        .select('id')
        .where('id', '=', input.projectId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      if (!project) throw new AppError('PROJECT_NOT_FOUND');
    }
    const { n } = await tx
      .selectFrom('webhooks')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    if (Number(n) >= MAX_WEBHOOKS_PER_USER) throw new AppError('TOO_MANY_WEBHOOKS');
    const secret = newSecret();
    const row = await tx
      .insertInto('webhooks')
      .values({
        user_id: userId,
        project_id: input.projectId ?? null,
        url: target.url.href,
        events,
        secret,
      })
      .returning(['id', 'url', 'events', 'project_id', 'created_at'])
      .executeTakeFirstOrThrow();
    return { ...present(row), secret };
  });
}

export async function listWebhooks(ctx: AppContext, userId: string): Promise<WebhookDto[]> {
  const rows = await ctx.db
    .selectFrom('webhooks')
    .select(['id', 'url', 'events', 'project_id', 'created_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(present);
}

/** Deletes the webhook and, by cascade, its deliveries; a pending attempt finds it gone and stops. */
export async function deleteWebhook(ctx: AppContext, userId: string, webhookId: string): Promise<void> {
  const res = await ctx.db
    .deleteFrom('webhooks')
    .where('id', '=', webhookId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (Number(res.numDeletedRows) === 0) throw new AppError('WEBHOOK_NOT_FOUND');
}

/** The owner's webhook, or WEBHOOK_NOT_FOUND. */
export async function ownedWebhook(ctx: AppContext, userId: string, webhookId: string) {
  const row = await ctx.db
    .selectFrom('webhooks')
    .select(['id'])
    .where('id', '=', webhookId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row) throw new AppError('WEBHOOK_NOT_FOUND');
  return row;
}
