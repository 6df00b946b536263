import { z } from 'zod';
import { FINGERPRINT, findDuplicates, MAX_DUPLICATE_QUERIES } from '../../uploads/duplicates.ts';
import { userOf } from '../auth.ts';
import type { RouteModule } from '../route-module.ts';

const body = z.object({
  files: z
    .array(
      z.object({
        size: z.number().int().min(0),
        fingerprint: z
          .string()
          .regex(FINGERPRINT, 'fingerprint must be 64 lowercase hex characters (SHA-256)'),
      }),
    )
    .min(1)
    .max(MAX_DUPLICATE_QUERIES),
});

/**
 * Before sending files: which of them did this user upload already (same size and fingerprint)?
 * `{files:[{size, fingerprint}]}` → `{matches:[{index, videoId, name, status, createdAt}]}`.
 */
export const duplicateRoutes: RouteModule = (app, ctx) => {
  app.post('/api/uploads/duplicates', { schema: { body, tags: ['uploads'] } }, async (req) => ({
    matches: await findDuplicates(ctx.db, userOf(req).id, req.body.files),
  }));
};
