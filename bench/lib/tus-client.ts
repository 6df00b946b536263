import { createReadStream } from 'node:fs';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';

/**
 * The lean tus client every server is measured with: one keep-alive agent, a POST to create,
 * then PATCHes whose bodies stream straight from the file on disk. No tus-js-client (its Node
 * build reads chunks into memory and is itself the bottleneck at these rates).
 */
export const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** Read size for request bodies: 1 MiB reads keep the client's CPU share small on 2 cores. */
const READ_CHUNK = 1024 * 1024;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function send(
  method: string,
  url: string,
  headers: Record<string, string | number>,
  body?: { file: string; start: number; end: number },
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (!body) {
      req.end();
      return;
    }
    // end is inclusive for createReadStream.
    pipeline(
      createReadStream(body.file, { start: body.start, end: body.end - 1, highWaterMark: READ_CHUNK }),
      req,
    ).catch(reject);
  });
}

/** tus Upload-Metadata: comma-separated "key base64(value)". */
export function encodeMetadata(metadata: Record<string, string>): string {
  return Object.entries(metadata)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');
}

export interface UploadTarget {
  endpoint: string;
  metadata?: Record<string, string>;
  headers?: Record<string, string>;
}

/**
 * Uploads `size` bytes of `file` to a tus endpoint: POST, then PATCHes of `chunkSize` bytes
 * (Infinity: one PATCH). Returns the upload URL. Throws on any unexpected status or offset.
 */
export async function tusUpload(
  target: UploadTarget,
  file: string,
  size: number,
  chunkSize: number,
  /** Filled with each PATCH's duration in ms, in order (the last one includes the finish). */
  patchMs?: number[],
): Promise<string> {
  const common = { 'tus-resumable': '1.0.0', ...target.headers };
  const created = await send('POST', target.endpoint, {
    ...common,
    'upload-length': size,
    ...(target.metadata ? { 'upload-metadata': encodeMetadata(target.metadata) } : {}),
  });
  const location = created.headers.location;
  if (created.status !== 201 || !location) {
    throw new Error(`create failed: ${created.status} ${created.body}`);
  }
  const url = new URL(location, target.endpoint).toString();
  let offset = 0;
  while (offset < size) {
    const end = Math.min(size, offset + chunkSize);
    const t0 = performance.now();
    const res = await send(
      'PATCH',
      url,
      {
        ...common,
        'upload-offset': offset,
        'content-type': 'application/offset+octet-stream',
        'content-length': end - offset,
      },
      { file, start: offset, end },
    );
    if (res.status !== 204 || res.headers['upload-offset'] !== String(end)) {
      throw new Error(
        `PATCH at ${offset} failed: ${res.status} offset=${res.headers['upload-offset']} ${res.body}`,
      );
    }
    patchMs?.push(performance.now() - t0);
    offset = end;
  }
  return url;
}

/** A small JSON request on the same agent (Clipdock's API). */
export async function jsonRequest<T>(
  method: string,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: T }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          ...headers,
          ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString();
          try {
            resolve({ status: res.statusCode ?? 0, json: (text ? JSON.parse(text) : undefined) as T });
          } catch {
            reject(new Error(`${method} ${url}: ${res.statusCode} ${text}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
