import { z } from 'zod';

/**
 * Settings of the alert rules (src/alerts/). Part of `src/config.ts`'s one schema (spread into
 * it). Every threshold has a default, so alerts are evaluated (and listed on the admin page)
 * even when no ALERT_WEBHOOK_URL is set.
 */
const int = (min: number) => z.coerce.number().int().min(min);
const percent = z.coerce.number().min(0).max(100);

export const alertsSchema = {
  /** Where firing and resolved alerts are POSTed as JSON; unset: they are only recorded. */
  ALERT_WEBHOOK_URL: z.string().url().optional(),
  /** A Standard Webhooks secret (`whsec_…`): when set, alert posts are signed like webhooks. */
  ALERT_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]+=*$/, 'must be a whsec_… secret')
    .optional(),
  ALERT_FAILURE_RATE_PERCENT: percent.default(20),
  ALERT_WINDOW_MINUTES: int(1).default(15),
  /** Fewer finished videos than this in the window never fire the failure-rate rule. */
  ALERT_FAILURE_MIN_COUNT: int(1).default(5),
  ALERT_QUEUE_AGE_MINUTES: int(1).default(10),
  ALERT_QUOTA_PERCENT: percent.default(90),
  ALERT_DISK_FREE_PERCENT: percent.default(10),
};

export interface AlertsConfig {
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
  failureRatePercent: number;
  windowMinutes: number;
  failureMinCount: number;
  queueAgeMinutes: number;
  quotaPercent: number;
  diskFreePercent: number;
}

type Parsed = {
  ALERT_WEBHOOK_URL?: string | undefined;
  ALERT_WEBHOOK_SECRET?: string | undefined;
  ALERT_FAILURE_RATE_PERCENT: number;
  ALERT_WINDOW_MINUTES: number;
  ALERT_FAILURE_MIN_COUNT: number;
  ALERT_QUEUE_AGE_MINUTES: number;
  ALERT_QUOTA_PERCENT: number;
  ALERT_DISK_FREE_PERCENT: number;
};

export function alertsConfig(c: Parsed): AlertsConfig {
  return {
    webhookUrl: c.ALERT_WEBHOOK_URL,
    webhookSecret: c.ALERT_WEBHOOK_SECRET,
    failureRatePercent: c.ALERT_FAILURE_RATE_PERCENT,
    windowMinutes: c.ALERT_WINDOW_MINUTES,
    failureMinCount: c.ALERT_FAILURE_MIN_COUNT,
    queueAgeMinutes: c.ALERT_QUEUE_AGE_MINUTES,
    quotaPercent: c.ALERT_QUOTA_PERCENT,
    diskFreePercent: c.ALERT_DISK_FREE_PERCENT,
  };
}
