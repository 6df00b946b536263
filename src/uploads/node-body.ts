import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Server } from '@tus/server';
import { type CancellationContext, type DataStore, ERRORS, StreamLimiter, type Upload } from '@tus/utils';
import { NodeRequest, sendNodeResponse } from 'srvx/node';

/**
 * Request bodies straight from Node's socket stream into the DataStore.
 *
 * @tus/server 2 works on web-standard Requests: in Node the body goes IncomingMessage →
 * Readable.toWeb → ReadableStream → Readable.fromWeb → PassThrough before reaching the store,
 * which halves throughput (every chunk crosses two promise-based adapters). Here the request
 * handed to tus carries the IncomingMessage itself as `body`, and the PATCH and POST handlers'
 * `writeToStore` hand it to the store, which meters, sniffs, limits and writes it in one hop. Everything else (lock,
 * offsets, hooks, headers, errors) stays tus' own code. `writeToStore` is tus' one extension
 * point for moving bytes; web bodies (any other caller) still take tus' path.
 */

type WriteToStore = (
  body: unknown,
  upload: Upload,
  maxFileSize: number,
  context: CancellationContext,
) => Promise<number>;

/** A store that takes a Node request body itself (ClipdockUploadStore). */
interface NodeBodyStore {
  writeBody(
    source: Readable,
    id: string,
    offset: number,
    opts: { maxBytes?: number; signal?: AbortSignal },
  ): Promise<number>;
}

async function writeNodeBody(
  store: DataStore,
  body: IncomingMessage,
  upload: Upload,
  maxFileSize: number,
  context: CancellationContext,
): Promise<number> {
  if (context.signal.aborted) throw ERRORS.ABORTED;
  if ('writeBody' in store) {
    return (store as unknown as NodeBodyStore).writeBody(body, upload.id, upload.offset, {
      maxBytes: maxFileSize,
      signal: context.signal,
    });
  }
  const limiter = new StreamLimiter(maxFileSize);
  const onAbort = () => {
    body.unpipe(limiter);
    if (!limiter.destroyed) limiter.end();
  };
  const onError = (err: Error) => {
    body.unpipe(limiter);
    if (!context.signal.aborted) limiter.destroy(err);
  };
  body.on('error', onError);
  context.signal.addEventListener('abort', onAbort, { once: true });
  body.pipe(limiter);
  try {
    return await store.write(limiter, upload.id, upload.offset);
  } finally {
    body.off('error', onError);
    context.signal.removeEventListener('abort', onAbort);
  }
}

/** Makes `server` move Node request bodies without web streams; serve with `handleNode`. */
export function streamNodeBodies(server: Server): void {
  for (const handler of [server.handlers.PATCH, server.handlers.POST]) {
    const h = handler as unknown as { writeToStore: WriteToStore };
    const webWrite = h.writeToStore.bind(handler);
    h.writeToStore = (body, upload, maxFileSize, context) =>
      isNodeRequest(body)
        ? writeNodeBody(server.datastore, body, upload, maxFileSize, context)
        : webWrite(body, upload, maxFileSize, context);
  }
}

const isNodeRequest = (b: unknown): b is IncomingMessage =>
  typeof b === 'object' && b !== null && typeof (b as IncomingMessage).pipe === 'function';

/** Like `server.handle(req, res)`, but the request's body is the IncomingMessage itself. */
export async function handleNode(server: Server, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const request = new NodeRequest({ req, res });
  if (req.method === 'PATCH' || req.method === 'POST') {
    Object.defineProperty(request, 'body', { value: req, configurable: true });
  }
  let response = await server.handleWeb(request as unknown as Request);
  if (response.status >= 400) {
    // Our refusals are `{"error":{code,message}}`, which tus sends as text/plain: say what it is.
    const text = await response.text();
    if (text.startsWith('{')) response.headers.set('content-type', 'application/json; charset=utf-8');
    response = new Response(text, { status: response.status, headers: response.headers });
  }
  if (response.status >= 400 && !req.complete) {
    // Closing at once would reset the connection under the reply: keep it open while the
    // refused rest of the body is discarded (bounded below).
    response.headers.delete('connection');
    discardRest(req);
  }
  await sendNodeResponse(res, response);
}

/** How much of a refused body is read and thrown away so that the refusal reaches the client. */
const LINGER_BYTES = 64 * 1024 * 1024;
const LINGER_MS = 5000;

/**
 * A refused request (415 not a video, 409, ...) may still be sending its body. Closing the socket
 * on unread bytes makes the kernel send a reset that can destroy our reply in the client's
 * buffers before it is read, so read and discard a bounded tail first (as nginx's lingering
 * close does): nothing of it is stored, and a client that reads the reply stops sending.
 */
function discardRest(req: IncomingMessage): void {
  let seen = 0;
  const timer = setTimeout(() => req.destroy(), LINGER_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > LINGER_BYTES) req.destroy();
  });
  req.once('close', () => clearTimeout(timer));
  req.resume();
}
