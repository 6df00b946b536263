import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Settings against hostile clients: rate limits on sign-in and sign-up, who may sign up, who
 * administers, and which proxies' forwarded headers are believed. Part of `src/config.ts`'s one
 * schema (spread into it), kept here so that file stays about storage, limits and processing.
 */
const count = z.coerce.number().int().min(0);

/** `true`/`false`, a hop count, or a comma list of IPs/CIDRs: what Fastify's `trustProxy` takes. */
const trustProxy = z
  .string()
  .trim()
  .transform((v, ctx): boolean | number | string[] => {
    const lower = v.toLowerCase();
    if (lower === 'true' || lower === 'yes') return true;
    if (lower === 'false' || lower === 'no' || lower === '0') return false;
    if (/^\d+$/.test(v)) return Number(v); // trust that many hops
    const entries = v
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    const bad = entries.filter((e) => !isAddressOrCidr(e));
    if (entries.length === 0 || bad.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must be true, false, a hop count, or a comma list of IPs/CIDRs (not ${bad.join(', ') || 'empty'})`,
      });
      return z.NEVER;
    }
    return entries;
  });

function isAddressOrCidr(entry: string): boolean {
  // proxy-addr's own names for private ranges are accepted too.
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [addr, bits, ...rest] = entry.split('/');
  if (rest.length > 0 || !addr) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d+$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

export const abuseSchema = {
  /** Sign-in attempts per account (email) per 15 minutes; 0 turns the limit off. */
  LOGIN_RATE_LIMIT: count.default(20),
  /** Sign-in attempts per client IP per 15 minutes; 0 turns the limit off. */
  LOGIN_IP_RATE_LIMIT: count.default(200),
  /** Sign-ups per client IP per hour; 0 turns the limit off. */
  SIGNUP_RATE_LIMIT: count.default(30),
  ALLOW_SIGNUP: z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .transform((v) => v === 'true' || v === '1' || v === 'yes')
    .default(true),
  ADMIN_EMAILS: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim().toLowerCase())
        .filter(Boolean),
    )
    .optional(),
  TRUST_PROXY: trustProxy.default(false),
};

export interface AbuseConfig {
  /** Per 15-minute window. 0 = unlimited. */
  loginPerAccount: number;
  loginPerIp: number;
  /** Per hour, per IP; the same per account (email). 0 = unlimited. */
  signupPerIp: number;
  /** When false only the very first account can still be created (a fresh server stays usable). */
  allowSignup: boolean;
  /** Lower-cased; empty means "the first account is the admin". */
  adminEmails: string[];
  /** Passed to Fastify's `trustProxy`: which peers' X-Forwarded-* headers are believed. */
  trustProxy: boolean | number | string[];
}

type Parsed = {
  LOGIN_RATE_LIMIT: number;
  LOGIN_IP_RATE_LIMIT: number;
  SIGNUP_RATE_LIMIT: number;
  ALLOW_SIGNUP: boolean;
  ADMIN_EMAILS?: string[] | undefined;
  TRUST_PROXY: boolean | number | string[];
};

export function abuseConfig(c: Parsed): AbuseConfig {
  return {
    loginPerAccount: c.LOGIN_RATE_LIMIT,
    loginPerIp: c.LOGIN_IP_RATE_LIMIT,
    signupPerIp: c.SIGNUP_RATE_LIMIT,
    allowSignup: c.ALLOW_SIGNUP,
    adminEmails: c.ADMIN_EMAILS ?? [],
    trustProxy: c.TRUST_PROXY,
  };
}
