import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

/**
 * Baseline (a): the least a server can do with an upload. It speaks just enough tus for the
 * bench client (POST → Location, PATCH → append with stream.pipeline(req, createWriteStream))
 * and keeps offsets in memory. Usage: node bare-sink.ts <dir>; prints "LISTENING <port>".
 */
const dir = process.argv[2];
if (!dir) throw new Error('usage: bare-sink.ts <dir>');
await mkdir(dir, { recursive: true });
const offsets = new Map<string, number>();

const server = http.createServer((req, res) => {
  const done = (status: number, headers: Record<string, string | number> = {}) => {
    res.writeHead(status, { 'tus-resumable': '1.0.0', ...headers });
    res.end();
  };
  if (req.method === 'POST' && req.url === '/files') {
    const id = randomUUID();
    offsets.set(id, 0);
    req.resume();
    req.on('end', () => done(201, { location: `/files/${id}`, 'upload-offset': 0 }));
    return;
  }
  const id = /^\/files\/([\w-]+)$/.exec(req.url ?? '')?.[1];
  const offset = id === undefined ? undefined : offsets.get(id);
  if (req.method !== 'PATCH' || id === undefined || offset === undefined) {
    req.resume();
    done(404);
    return;
  }
  const file = createWriteStream(path.join(dir, id), { flags: 'a' });
  pipeline(req, file).then(
    () => {
      offsets.set(id, offset + file.bytesWritten);
      done(204, { 'upload-offset': offset + file.bytesWritten });
    },
    () => done(500),
  );
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`LISTENING ${(server.address() as { port: number }).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
