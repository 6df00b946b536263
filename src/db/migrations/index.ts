import type { Migration } from 'kysely/migration';
import * as m001 from './001_initial.ts';
import * as m002 from './002_upload_resumes.ts';
import * as m003 from './003_videos_updated_idx.ts';
import * as m004 from './004_auth_sessions.ts';
import * as m005 from './005_processing_limits.ts';
import * as m007 from './007_rate_limits.ts';
import * as m008 from './008_cleanup_runs.ts';
import * as m009 from './009_webhooks.ts';
import * as m010 from './010_alerts.ts';
import * as m011 from './011_s3_uploads.ts';
import * as m012 from './012_enrichment.ts';
import * as m013 from './013_upload_fingerprints.ts';

/** Every migration, in order. Add new ones here as `NNN_name`. */
export const migrations: Record<string, Migration> = {
  '001_initial': m001,
  '002_upload_resumes': m002,
  '003_videos_updated_idx': m003,
  '004_auth_sessions': m004,
  '005_processing_limits': m005,
  '007_rate_limits': m007,
  '008_cleanup_runs': m008,
  '009_webhooks': m009,
  '010_alerts': m010,
  '011_s3_uploads': m011,
  '012_enrichment': m012,
  '013_upload_fingerprints': m013,
};
