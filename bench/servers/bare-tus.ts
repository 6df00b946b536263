import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

/**
 * Baseline (b): a stock @tus/server with @tus/file-store and default options (in-memory locker,
 * no hooks). Usage: node bare-tus.ts <dir>; prints "LISTENING <port>".
 */
const dir = process.argv[2];
if (!dir) throw new Error('usage: bare-tus.ts <dir>');
await mkdir(dir, { recursive: true });
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });

const server = http.createServer((req, res) => {
  tus.handle(req, res);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  console.log(`LISTENING ${(server.address() as { port: number }).port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
