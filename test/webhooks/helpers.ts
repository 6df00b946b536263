import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { expect } from 'vitest';
import type { signUp } from '../helpers/server.ts';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A webhook receiver on loopback, as an integrator runs one. `/flaky` answers 500 to its first
 * two requests, then 200; every other path answers 200.
 */
export async function startReceiver() {
  const received: Received[] = [];
  let flakyCalls = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      if (req.url === '/redirect') {
        res.writeHead(307, { location: '/landed' });
        res.end();
        return;
      }
      if (req.url === '/silent') return; // never answers
      if (req.url === '/endless') {
        // An answer that never ends: the sender must stop reading, not buffer it all.
        res.writeHead(500, { 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        const pump = () => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
        return;
      }
      if (req.url === '/flaky' && ++flakyCalls <= 2) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('receiver is down for maintenance');
        return;
      }
      res.writeHead(200);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return { base, received, close };
}

/** Verifies with the Standard Webhooks reference verifier; returns the parsed payload. */
export function verified(secret: string, r: Received) {
  const headers = {
    'webhook-id': String(r.headers['webhook-id']),
    'webhook-timestamp': String(r.headers['webhook-timestamp']),
    'webhook-signature': String(r.headers['webhook-signature']),
  };
  return new Webhook(secret).verify(r.body, headers) as {
    type: string;
    timestamp: string;
    data: { id: string; status: string; name?: string };
  };
}

export type Api = Awaited<ReturnType<typeof signUp>>['api'];

export async function addWebhook(api: Api, body: Record<string, unknown>) {
  const res = await api('/api/webhooks', { method: 'POST', body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { id: string; secret: string; events: string[] };
}

export async function deliveries(api: Api, webhookId: string) {
  const res = await api(`/api/webhooks/${webhookId}/deliveries`);
  expect(res.status).toBe(200);
  return (
    (await res.json()) as {
      deliveries: Array<{
        id: string;
        event: string;
        videoId: string;
        status: string;
        attempts: number;
        lastStatusCode: number | null;
        error: string | null;
        lastAttemptAt: string | null;
        deliveredAt: string | null;
      }>;
    }
  ).deliveries;
}
