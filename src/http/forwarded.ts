import type { FastifyRequest } from 'fastify';

const FORWARDED = new Set(['forwarded', 'x-forwarded-host', 'x-forwarded-proto']);

/**
 * Rewrites the forwarded headers of a request handed to code that reads them itself (tus builds
 * its Location from Forwarded/X-Forwarded-Host/-Proto): they say exactly what Fastify concluded
 * under TRUST_PROXY, so a client that is not a trusted proxy cannot name the host or scheme.
 * Both views of the headers change: tus' web Request reads `headers` and, once it iterates
 * them, `rawHeaders`.
 */
export function pinForwardedHeaders(req: FastifyRequest): void {
  const raw = req.raw;
  const host = req.host;
  const proto = req.protocol;
  delete raw.headers.forwarded;
  raw.headers['x-forwarded-host'] = host;
  raw.headers['x-forwarded-proto'] = proto;
  const kept: string[] = [];
  for (let i = 0; i + 1 < raw.rawHeaders.length; i += 2) {
    const name = raw.rawHeaders[i]!;
    if (!FORWARDED.has(name.toLowerCase())) kept.push(name, raw.rawHeaders[i + 1]!);
  }
  raw.rawHeaders = [...kept, 'x-forwarded-host', host, 'x-forwarded-proto', proto];
}
