import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { uploadStoreContract } from './upload-store.contract.ts';

// The partial file on the node's disk (FileStore's layout), moved into storage at finish.
uploadStoreContract('local disk', async () => ({
  env: { STORAGE_DRIVER: 'fs' },
  async checkBetweenRequests(server, videoId, offset) {
    const st = await stat(path.join(server.node.ctx.config.uploadsDir, videoId));
    expect(st.size).toBe(offset);
  },
  async checkGone(server, videoId) {
    const dir = server.node.ctx.config.uploadsDir;
    expect(await stat(path.join(dir, videoId)).catch(() => undefined)).toBeUndefined();
    expect(await stat(path.join(dir, `${videoId}.json`)).catch(() => undefined)).toBeUndefined();
  },
  async crashMidWrite(server, videoId, body, offset) {
    // The next 100 KiB reached the file, then the process died before anything else happened.
    const fh = await open(path.join(server.node.ctx.config.uploadsDir, videoId), 'r+');
    await fh.write(body, offset, 100 * 1024, offset);
    await fh.close();
    return offset + 100 * 1024;
  },
  close: async () => {},
}));
