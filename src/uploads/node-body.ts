import type { IncomingMessage, ServerResponse } from 'node:http';
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
 * `writeToStore` pipe it to the store through tus' own size limiter only. Everything else (lock,
 * offsets, hooks, headers, errors) stays tus' own code. `writeToStore` is tus' one extension
 * point for moving bytes; web bodies (any other caller) still take tus' path.
 */

type WriteToStore = (
  body: unknown,
  upload: Upload,
  maxFileSize: number,
  context: CancellationContext,
) => Promise<number>;

async function writeNodeBody(
  store: DataStore,
  body: IncomingMessage,
  upload: Upload,
  maxFileSize: number,
  context: CancellationContext,
): Promise<number> {
  if (context.signal.aborted) throw ERRORS.ABORTED;
  const limiter = new StreamLimiter(maxFileSize);
  let sourceError: unknown;
  const onError = (err: unknown) => {
    sourceError = err;
    body.unpipe(limiter);
    if (!context.signal.aborted) limiter.destroy(err as Error);
  };
  const onClose = () => {
    if (!body.complete) onError(new Error('request closed before its body ended'));
  };
  // A lock handed over (or the request aborted): stop reading, keep what was written.
  const onAbort = () => {
    body.unpipe(limiter);
    if (!limiter.destroyed) limiter.end();
  };
  body.on('error', onError);
  body.on('close', onClose);
  context.signal.addEventListener('abort', onAbort, { once: true });
  body.pipe(limiter);
  try {
    return await store.write(limiter, upload.id, upload.offset);
  } catch (err) {
    body.unpipe(limiter);
    throw sourceError !== undefined || (err as Error)?.name === 'AbortError' ? ERRORS.ABORTED : err;
  } finally {
    body.off('error', onError);
    body.off('close', onClose);
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
  const response = await server.handleWeb(request as unknown as Request);
  await sendNodeResponse(res, response);
}
