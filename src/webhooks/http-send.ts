import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { WebhookTarget } from './address-policy.ts';

/** How much of a receiver's answer is read; the rest is dropped with the connection. */
export const RESPONSE_BODY_CAP = 64 * 1024;
/** How much of it is kept in the delivery log. */
const EXCERPT_CHARS = 200;

export interface SendResult {
  /** The receiver's HTTP status, when it answered. */
  statusCode: number | null;
  ok: boolean;
  /** Why the attempt failed, for the delivery log. */
  error: string | null;
}

/**
 * One POST to a checked target. Redirects are not followed (a 3xx is a failed attempt: following
 * it would bypass the address check); the whole attempt, connection included, is bounded by
 * `timeoutMs`; at most RESPONSE_BODY_CAP bytes of the answer are read. Never throws.
 */
export function postWebhook(
  target: WebhookTarget,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<SendResult> {
  const { url, addresses } = target;
  // The connection goes to addresses that passed the check, whatever DNS says a moment later
  // (all of them when Node tries several, "happy eyeballs"; else the first).
  const pinned: LookupFunction = (_host, opts, cb) => {
    if (opts.all) cb(null, addresses);
    else cb(null, addresses[0]!.address, addresses[0]!.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (r: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const req = client.request(
      url,
      {
        method: 'POST',
        agent: false,
        lookup: pinned,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'Clipdock-Webhooks/1',
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let read = 0;
        const done = () => {
          const excerpt = Buffer.concat(chunks).toString('utf8').slice(0, EXCERPT_CHARS).trim();
          if (status >= 200 && status < 300) finish({ statusCode: status, ok: true, error: null });
          else if (status >= 300 && status < 400) {
            finish({
              statusCode: status,
              ok: false,
              error: `redirect to ${res.headers.location ?? '?'} not followed`,
            });
          } else
            finish({
              statusCode: status,
              ok: false,
              error: `HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`,
            });
        };
        res.on('data', (c: Buffer) => {
          if (read < RESPONSE_BODY_CAP) chunks.push(c.subarray(0, RESPONSE_BODY_CAP - read));
          read += c.length;
          if (read >= RESPONSE_BODY_CAP) done();
        });
        res.on('end', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(
      () => finish({ statusCode: null, ok: false, error: `no answer within ${timeoutMs / 1000} s` }),
      timeoutMs,
    );
    req.on('error', (err) => finish({ statusCode: null, ok: false, error: err.message }));
    req.end(body);
  });
}
