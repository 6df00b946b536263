import { createHash, randomBytes } from 'node:crypto';

/**
 * Bearer secrets: a kind prefix and 32 random bytes, shown once; only their SHA-256 is stored,
 * so a copy of the database authenticates nobody. The prefix says which table to look in
 * (`cdk_` sessions, `cdp_` personal API tokens) and lets secret scanners recognise a leak.
 */
export const newSecretToken = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** Sliding expiry and last-use stamps are written at most this often per token, not per request. */
export const TOUCH_INTERVAL_MS = 60_000;
