import { isAdmin } from '../../accounts/admins.ts';
import type { Config } from '../../config.ts';
import { getBalance } from '../../credits/ledger.ts';
import { isDatabaseUp } from '../../db/database.ts';
import { storageUsedBytes } from '../../uploads/quota.ts';
import { userOf } from '../auth.ts';
import type { RouteModule } from '../route-module.ts';

export const healthRoutes: RouteModule = (app, ctx) => {
  app.get('/api/health', { schema: { tags: ['system'] }, config: { public: true } }, async (_req, reply) => {
    if (await isDatabaseUp(ctx.db)) {
      // The media tools' release, for operators checking what converts their users' files.
      const t = ctx.toolchain;
      return {
        status: 'ok',
        ...(t ? { media: { ffmpeg: t.ffmpeg.version, ffprobe: t.ffprobe.version } } : {}),
      };
    }
    return reply.status(503).send({
      status: 'unavailable',
      error: { code: 'DATABASE_UNAVAILABLE', message: 'The database is not answering.' },
    });
  });
};

export const accountRoutes: RouteModule = (app, ctx) => {
  app.get('/api/me', { schema: { tags: ['account'] } }, async (req) => {
    const user = userOf(req);
    const [credits, usedBytes, admin] = await Promise.all([
      getBalance(ctx.db, user.id),
      storageUsedBytes(ctx.db, user.id),
      isAdmin(ctx.db, ctx.config.abuse.adminEmails, user),
    ]);
    const { limits } = ctx.config;
    return {
      user: { ...user, isAdmin: admin },
      credits,
      storage: { usedBytes, quotaBytes: limits.storageQuotaBytes },
      // What the browser pre-checks against; the server enforces the same values.
      limits: {
        maxFilesPerSession: limits.maxFilesPerSession,
        maxFileBytes: limits.maxFileBytes,
        acceptedExtensions: limits.acceptedExtensions,
        creditsPerVideo: limits.creditsPerVideo,
        uploadChunkBytes: uploadChunkBytes(ctx.config),
      },
      // What this installation does: a step that is off shows as skipped, not pending.
      features: { transcription: Boolean(ctx.config.transcription.assemblyAiApiKey) },
    };
  });

  app.get('/api/projects', { schema: { tags: ['account'] } }, async (req) => {
    const user = userOf(req);
    const projects = await ctx.db
      .selectFrom('projects')
      .select(['id', 'name', 'is_default as isDefault', 'created_at as createdAt'])
      .where('user_id', '=', user.id)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return { projects };
  });
};

/**
 * The PATCH size a client should use: 10 MiB, rounded up to whole parts on S3 so a request ends
 * on a part boundary and no tail is written to the bucket and read back between requests.
 */
export function uploadChunkBytes(config: Config): number {
  const chunk = 10 * 1024 * 1024;
  const part = config.storage.driver === 's3' ? config.storage.uploadPartBytes : undefined;
  return part ? Math.ceil(chunk / part) * part : chunk;
}
