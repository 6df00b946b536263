import { evaluateAlerts } from './alerts/evaluate.ts';
import { sendAlert } from './alerts/notify.ts';
import { runCleanup } from './cleanup/cleanup.ts';
import { runScheduledSweep } from './cleanup/sweep.ts';
import type { AppContext } from './context.ts';
import type { Tasks } from './jobs/worker.ts';
import { recoverStalledVideos } from './processing/recovery.ts';
import { processVideo } from './processing/runner.ts';
import { expireUploads } from './uploads/expire.ts';
import { deliverWebhook } from './webhooks/deliver.ts';
import { sweepWebhookDeliveries } from './webhooks/sweep.ts';

/** The worker's task list: job name → the domain function that runs it. */
export function workerTasks(ctx: AppContext): Tasks {
  return {
    process_video: async (payload, helpers) => {
      await processVideo(ctx, payload.videoId, { signal: helpers.abortSignal, reprocess: payload.reprocess });
    },
    recover_processing: async () => {
      await recoverStalledVideos(ctx);
    },
    cleanup_storage: async () => {
      await runCleanup(ctx);
    },
    expire_uploads: async () => {
      await expireUploads(ctx);
    },
    deliver_webhook: async (payload) => {
      await deliverWebhook(ctx, payload.deliveryId);
    },
    requeue_webhooks: async () => {
      await sweepWebhookDeliveries(ctx);
    },
    cleanup_sweep: async () => {
      await runScheduledSweep(ctx);
    },
    evaluate_alerts: async () => {
      await evaluateAlerts(ctx);
    },
    send_alert: async (payload) => {
      await sendAlert(ctx, payload.alertId, payload.event);
    },
  };
}

/**
 * Housekeeping schedule (graphile-worker crontab syntax). The cleanup sweep catches deletes
 * whose job ran out of attempts while storage was down.
 */
export const workerCrontab = [
  '* * * * * recover_processing ?jobKey=recover_processing&jobKeyMode=preserve_run_at',
  '*/15 * * * * cleanup_storage ?jobKey=cleanup_storage&jobKeyMode=preserve_run_at',
  '*/10 * * * * expire_uploads ?jobKey=expire_uploads&jobKeyMode=preserve_run_at',
  '*/5 * * * * requeue_webhooks ?jobKey=requeue_webhooks&jobKeyMode=preserve_run_at',
  // Due when the last scheduled sweep is CLEANUP_INTERVAL_MINUTES old (checked each minute).
  '* * * * * cleanup_sweep ?jobKey=cleanup_sweep&jobKeyMode=preserve_run_at',
  '* * * * * evaluate_alerts ?jobKey=evaluate_alerts&jobKeyMode=preserve_run_at',
].join('\n');
