import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { LocalFile } from './files.ts';

/**
 * What a run remembers for the next one, in a small JSON file (default ~/.clipdock/uploads.json):
 * per server and local file (path, size, mtime, fingerprint of the first and last MiB), the video
 * it became and its tus upload URL. A rerun after Ctrl-C or a dropped network continues that
 * upload instead of starting (and paying for) a new one; a finished one is not sent again.
 * A file changed since (another size, mtime or fingerprint) has another key: a new upload.
 */
export interface UploadRecord {
  server: string;
  path: string;
  size: number;
  videoId: string;
  endpoint: string;
  metadata: Record<string, string>;
  /** The tus upload URL once the upload was created (POST); absent before. */
  uploadUrl?: string;
  /** All bytes arrived (the server answered the last PATCH). */
  finished?: boolean;
  updatedAt: string;
}

interface StateFile {
  version: 1;
  uploads: Record<string, UploadRecord>;
}

/** Records of finished uploads are forgotten after this long. */
const KEEP_FINISHED_MS = 30 * 24 * 3600 * 1000;

export function defaultStatePath(): string {
  return path.join(os.homedir(), '.clipdock', 'uploads.json');
}

export function keyOf(server: string, file: LocalFile): string {
  return [server, file.path, file.size, file.mtimeMs, file.fingerprint].join('|');
}

export class UploadState {
  readonly file: string;
  private uploads: Record<string, UploadRecord>;
  private writing: Promise<void> = Promise.resolve();

  private constructor(file: string, uploads: Record<string, UploadRecord>) {
    this.file = file;
    this.uploads = uploads;
  }

  static async load(file: string): Promise<UploadState> {
    let uploads: Record<string, UploadRecord> = {};
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<StateFile>;
      if (parsed && typeof parsed.uploads === 'object' && parsed.uploads) uploads = parsed.uploads;
    } catch (err) {
      // A missing file is a first run; an unreadable one is replaced rather than blocking uploads.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof SyntaxError)) throw err;
    }
    const now = Date.now();
    for (const [key, rec] of Object.entries(uploads)) {
      if (rec.finished && now - Date.parse(rec.updatedAt) > KEEP_FINISHED_MS) delete uploads[key];
    }
    return new UploadState(file, uploads);
  }

  get(key: string): UploadRecord | undefined {
    return this.uploads[key];
  }

  /** Sets (or with undefined, forgets) the record of `key` and writes the file. */
  set(key: string, rec: UploadRecord | undefined): Promise<void> {
    if (rec) this.uploads[key] = { ...rec, updatedAt: new Date().toISOString() };
    else delete this.uploads[key];
    return this.flush();
  }

  patch(key: string, changes: Partial<UploadRecord>): Promise<void> {
    const rec = this.uploads[key];
    return rec ? this.set(key, { ...rec, ...changes }) : Promise.resolve();
  }

  /** Writes are serialised and atomic (temp file, then rename): a kill never leaves half a file. */
  flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      const body: StateFile = { version: 1, uploads: this.uploads };
      await writeFile(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
      await rename(tmp, this.file);
    });
    return this.writing;
  }
}
