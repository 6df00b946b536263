import { createHash, randomBytes } from 'node:crypto';
import * as tus from 'tus-js-client';

/** Random bytes behind a valid MP4 `ftyp` box, so the sniffer takes them for an MP4. */
export function fakeMp4(size: number): Buffer {
  const buf = randomBytes(size);
  const ftyp = Buffer.from([
    0x00, 0x00, 0x00, 0x18, 0x66, 0x74, 0x79, 0x70, 0x69, 0x73, 0x6f, 0x6d, 0x00, 0x00, 0x02, 0x00, 0x69,
    0x73, 0x6f, 0x6d, 0x69, 0x73, 0x6f, 0x32,
  ]);
  ftyp.copy(buf, 0);
  return buf;
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface SessionFile {
  videoId: string;
  name: string;
  upload: { endpoint: string; metadata: Record<string, string> };
}

export type Api = (p: string, init?: RequestInit) => Promise<Response>;

export async function createSession(
  api: Api,
  files: Array<{ name: string; size: number; type?: string }>,
  projectId?: string,
): Promise<{ sessionId: string; files: SessionFile[] }> {
  const res = await api('/api/upload-sessions', {
    method: 'POST',
    body: JSON.stringify({ files, ...(projectId ? { projectId } : {}) }),
  });
  if (res.status !== 201) throw new Error(`session refused: ${res.status} ${await res.text()}`);
  return (await res.json()) as { sessionId: string; files: SessionFile[] };
}

/** A raw tus creation (POST) for a session file; with `body`, creation-with-upload. */
export function tusCreate(
  file: SessionFile,
  token: string,
  opts: { length: number; body?: Buffer },
): Promise<Response> {
  return fetch(file.upload.endpoint, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'tus-resumable': '1.0.0',
      'upload-length': String(opts.length),
      'upload-metadata': `videoId ${Buffer.from(file.videoId).toString('base64')}`,
      ...(opts.body ? { 'content-type': 'application/offset+octet-stream' } : {}),
    },
    ...(opts.body ? { body: new Uint8Array(opts.body) } : {}),
  });
}

export interface TusRun {
  upload: tus.Upload;
  done: Promise<void>;
  /** Resolves once at least `bytes` bytes were acknowledged by the server. */
  reached(bytes: number): Promise<void>;
}

/** Starts a tus-js-client upload, as a browser or a Node script would. */
export function startTus(
  body: Buffer,
  opts: {
    token: string;
    file?: SessionFile;
    uploadUrl?: string;
    chunkSize?: number;
    retry?: boolean;
  },
): TusRun {
  let acked = 0;
  const waiters: Array<{ bytes: number; resolve: () => void }> = [];
  let upload!: tus.Upload;
  const done = new Promise<void>((resolve, reject) => {
    upload = new tus.Upload(body, {
      ...(opts.file ? { endpoint: opts.file.upload.endpoint, metadata: opts.file.upload.metadata } : {}),
      ...(opts.uploadUrl ? { uploadUrl: opts.uploadUrl } : {}),
      headers: { authorization: `Bearer ${opts.token}` },
      chunkSize: opts.chunkSize ?? 4 * 1024 * 1024,
      retryDelays: opts.retry ? [100, 500, 1000, 2000] : null,
      onChunkComplete: (_chunk, uploaded) => {
        acked = uploaded;
        for (const w of waiters.splice(0)) {
          if (acked >= w.bytes) w.resolve();
          else waiters.push(w);
        }
      },
      onSuccess: () => resolve(),
      onError: (err) => reject(err),
    });
    upload.start();
  });
  done.catch(() => {});
  return {
    upload,
    done,
    reached: (bytes) =>
      acked >= bytes ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ bytes, resolve })),
  };
}

/** The server's offset for an upload (tus HEAD). */
export async function headOffset(url: string, token: string): Promise<number> {
  const res = await fetch(url, {
    method: 'HEAD',
    headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${token}` },
  });
  if (res.status !== 200) throw new Error(`HEAD ${url}: ${res.status}`);
  return Number(res.headers.get('upload-offset'));
}

/** Polls until `fn` returns a truthy value (no fixed sleeps in assertions). */
export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
