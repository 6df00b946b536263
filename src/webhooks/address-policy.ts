import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AppError } from '../errors.ts';

/**
 * Where a webhook may point. A webhook makes this server send requests to a URL a user chose,
 * so without this check any user could reach the database, the cloud metadata service or an
 * admin port behind the firewall (SSRF). The check runs when the webhook is created and again
 * before every attempt, on a fresh DNS answer, and the attempt connects to the very address
 * that passed (`resolveWebhookTarget`): a name that resolved to a public address yesterday and
 * to 127.0.0.1 now (DNS rebinding) is refused, not followed.
 */

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated)
  ['::ffff:0:0', 96], // IPv4-mapped: would smuggle any IPv4 address past the list above
  ['64:ff9b::', 96], // NAT64: likewise
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: embeds an IPv4 address
  ['fc00::', 7], // unique local (AWS metadata fd00:ec2::254 among them)
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** Whether an IP address is private, loopback, link-local, metadata or otherwise not public. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true; // not an address: never connect to it
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Parses a webhook URL: absolute, http or https, nothing else. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('WEBHOOK_URL_INVALID');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new AppError('WEBHOOK_URL_INVALID');
  }
  return url;
}

export interface WebhookTarget {
  url: URL;
  /** The addresses the attempt may connect to: all of them passed the check. */
  addresses: Array<{ address: string; family: 4 | 6 }>;
}

/**
 * Resolves the URL's host and checks every address it resolves to (one private address among
 * public ones is enough to refuse: the connection could pick it). Throws WEBHOOK_URL_* errors.
 */
export async function resolveWebhookTarget(
  raw: string,
  opts: { allowPrivate: boolean; timeoutMs: number },
): Promise<WebhookTarget> {
  const url = parseWebhookUrl(raw);
  // URL keeps IPv6 literals in brackets.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await lookupWithin(host, opts.timeoutMs);
    } catch {
      throw new AppError('WEBHOOK_URL_UNRESOLVABLE');
    }
  }
  if (addresses.length === 0) throw new AppError('WEBHOOK_URL_UNRESOLVABLE');
  if (!opts.allowPrivate && addresses.some((a) => isPrivateAddress(a.address))) {
    throw new AppError('WEBHOOK_URL_PRIVATE');
  }
  return { url, addresses: addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 })) };
}

/** A DNS answer, or a rejection after `ms` (a resolver that never answers must not hold a job). */
async function lookupWithin(host: string, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no DNS answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([lookup(host, { all: true, verbatim: true }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
