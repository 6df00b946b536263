import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertValidKey,
  type ByteRange,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  StorageNotFoundError,
} from './object-store.ts';

/**
 * Objects as files under `root`. Writes go to a temp file in `root/.tmp` and are renamed into
 * place, so a crash mid-write leaves no half object (the temp dir is emptied at start-up).
 * Content types are kept in a sidecar `<file>.meta.json` only when given.
 */
export class FsObjectStore implements ObjectStore {
  readonly driver = 'fs' as const;
  private readonly root: string;
  private readonly tmpDir: string;

  constructor(root: string) {
    this.root = root;
    this.tmpDir = path.join(root, '.tmp');
  }

  /** Creates the root and throws away temp files left by a crash. */
  async init(): Promise<void> {
    await fs.rm(this.tmpDir, { recursive: true, force: true });
    await fs.mkdir(this.tmpDir, { recursive: true });
  }

  private file(key: string): string {
    assertValidKey(key);
    return path.join(this.root, key);
  }

  private async commit(tmp: string, key: string, opts?: PutOptions): Promise<ObjectInfo> {
    const dest = this.file(key);
    await fs.mkdir(path.dirname(dest), { recursive: true });
    if (opts?.contentType)
      await fs.writeFile(`${dest}.meta.json`, JSON.stringify({ contentType: opts.contentType }));
    else await fs.rm(`${dest}.meta.json`, { force: true });
    await fs.rename(tmp, dest);
    return (await this.head(key))!;
  }

  async put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<ObjectInfo> {
    this.file(key);
    const tmp = path.join(this.tmpDir, randomUUID());
    try {
      if (Buffer.isBuffer(body)) await fs.writeFile(tmp, body);
      else await pipeline(body, createWriteStream(tmp));
      return await this.commit(tmp, key, opts);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async putFile(key: string, filePath: string, opts?: PutOptions): Promise<ObjectInfo> {
    this.file(key);
    const tmp = path.join(this.tmpDir, randomUUID());
    try {
      await fs.copyFile(filePath, tmp);
      return await this.commit(tmp, key, opts);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async setContentType(key: string, contentType: string): Promise<void> {
    const file = this.file(key);
    if (!(await fs.stat(file).catch(() => undefined))?.isFile()) throw new StorageNotFoundError(key);
    await fs.writeFile(`${file}.meta.json`, JSON.stringify({ contentType }));
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.file(key);
    const handle = await fs.open(file, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'EISDIR') throw new StorageNotFoundError(key);
      throw err;
    });
    // The stream must own the FileHandle itself: passing only its numeric fd leaves the handle to
    // be garbage-collected, which closes the fd under the stream (EBADF).
    return handle.createReadStream({ start: range?.start, end: range?.end, autoClose: true });
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const file = this.file(key);
    try {
      const st = await fs.stat(file);
      if (!st.isFile()) return undefined;
      let contentType: string | undefined;
      try {
        contentType = JSON.parse(await fs.readFile(`${file}.meta.json`, 'utf8')).contentType;
      } catch {
        contentType = undefined;
      }
      return { key, size: st.size, contentType, lastModified: st.mtime };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.file(key);
    await fs.rm(file, { force: true });
    await fs.rm(`${file}.meta.json`, { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    for (const obj of await this.list(prefix)) await this.delete(obj.key);
    // Remove emptied directories under a directory-shaped prefix.
    if (prefix.endsWith('/')) {
      await fs.rm(path.join(this.root, prefix), { recursive: true, force: true }).catch(() => {});
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = path.join(this.root, dirPart);
    const walk = async (dir: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const full = path.join(dir, e.name);
        const key = path.relative(this.root, full).split(path.sep).join('/');
        if (key.startsWith('.tmp')) continue;
        if (e.isDirectory()) await walk(full);
        else if (!e.name.endsWith('.meta.json') && key.startsWith(prefix)) {
          const info = await this.head(key);
          if (info) out.push(info);
        }
      }
    };
    await walk(start);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async localPathOrUrl(key: string): Promise<string> {
    const file = this.file(key);
    if (!(await this.head(key))) throw new StorageNotFoundError(key);
    return file;
  }

  async signedUrl(): Promise<string | undefined> {
    return undefined;
  }
}
