import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { HashGate } from './hash-gate.ts';

const scrypt = promisify(scryptCb) as (
  pw: string,
  salt: Buffer,
  keylen: number,
  opts: object,
) => Promise<Buffer>;
// N=2^15, r=8, p=1: 32 MiB and ~0.1 s per hash; parameters are stored with each hash, so they can be raised.
const PARAMS = { N: 2 ** 15, r: 8, p: 1, maxmem: 128 * 1024 * 1024 };
const KEYLEN = 32;

/**
 * Every hash and check in this process goes through one gate: 2 at a time (half of libuv's
 * default 4 threads, so file serving and uploads keep theirs), 64 waiting (about 3 s of work at
 * 0.1 s per hash per thread); beyond that a password check gets 503 SERVER_BUSY with Retry-After.
 * Making a hash is never refused, only queued: sign-ups are rate limited per IP, and a caller
 * that caches a hash (login's stand-in for unknown emails) must not cache a refusal.
 * Process-wide on purpose: the thread pool it protects is process-wide.
 */
export const passwordGate = new HashGate(2, 64);

/** "scrypt$N$r$p$salt$hash", all base64url, so the parameters can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await passwordGate.run(() => scrypt(password, salt, KEYLEN, PARAMS), {
    refusable: false,
  });
  return [
    'scrypt',
    PARAMS.N,
    PARAMS.r,
    PARAMS.p,
    salt.toString('base64url'),
    hash.toString('base64url'),
  ].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await passwordGate.run(() =>
    scrypt(password, Buffer.from(salt, 'base64url'), expected.length, {
      N: Number(n),
      r: Number(r),
      p: Number(p),
      maxmem: PARAMS.maxmem,
    }),
  );
  return timingSafeEqual(expected, actual);
}
