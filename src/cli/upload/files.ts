import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/** A local file the CLI will upload, with what identifies it across runs. */
export interface LocalFile {
  path: string;
  name: string;
  size: number;
  mtimeMs: number;
  /** Hex SHA-256 of the first MiB followed by the last MiB, as the web app's identity.ts takes it. */
  fingerprint: string;
}

export interface Collected {
  files: LocalFile[];
  /** Arguments that could not be used, with why. */
  skipped: Array<{ path: string; reason: string }>;
}

const MiB = 1024 * 1024;

/**
 * The files named on the command line, and the video files under the folders named there
 * (recursively; hidden entries skipped). A file named explicitly is taken whatever its
 * extension, so the server's refusal reaches the user; in folders only `extensions` count.
 */
export async function collectFiles(args: string[], extensions: string[]): Promise<Collected> {
  const accepted = new Set(extensions.map((e) => e.toLowerCase().replace(/^\./, '')));
  const seen = new Set<string>();
  const out: Collected = { files: [], skipped: [] };
  const unreadable = (p: string, err: unknown) =>
    out.skipped.push({ path: p, reason: `Cannot read it (${(err as NodeJS.ErrnoException).code ?? err}).` });
  const add = async (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    try {
      out.files.push(await describe(file));
    } catch (err) {
      unreadable(file, err);
    }
  };
  for (const arg of args) {
    const abs = path.resolve(arg);
    const info = await stat(abs).catch(() => undefined);
    if (!info) out.skipped.push({ path: arg, reason: 'No such file or folder.' });
    else if (info.isDirectory()) {
      for (const file of await walk(abs, unreadable)) {
        if (accepted.has(path.extname(file).slice(1).toLowerCase())) await add(file);
      }
    } else if (info.isFile()) await add(abs);
    else out.skipped.push({ path: arg, reason: 'Not a regular file or folder.' });
  }
  return out;
}

async function walk(dir: string, unreadable: (p: string, err: unknown) => void): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    unreadable(dir, err);
    return [];
  }
  entries.sort((a, b) => a.name.localeCompare(b.name));
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) files.push(...(await walk(full, unreadable)));
    else if (e.isFile()) files.push(full);
    // A link to a file counts; links to folders are not followed (no loops).
    else if (e.isSymbolicLink() && (await stat(full).catch(() => undefined))?.isFile()) files.push(full);
  }
  return files;
}

async function describe(file: string): Promise<LocalFile> {
  const info = await stat(file);
  return {
    path: file,
    name: path.basename(file),
    size: info.size,
    mtimeMs: Math.trunc(info.mtimeMs),
    fingerprint: await fingerprintOf(file, info.size),
  };
}

export async function fingerprintOf(file: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, 'r');
  try {
    const headLength = Math.min(MiB, size);
    const tailStart = Math.max(0, size - MiB);
    hash.update(await readAt(handle, 0, headLength));
    hash.update(await readAt(handle, tailStart, size - tailStart));
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

async function readAt(handle: Awaited<ReturnType<typeof open>>, position: number, length: number) {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

/** A MIME type for the session from the extension; the server judges the content anyway. */
export function typeOf(name: string): string | undefined {
  const ext = path.extname(name).slice(1).toLowerCase();
  const types: Record<string, string> = {
    mp4: 'video/mp4',
    m4v: 'video/x-m4v',
    mov: 'video/quicktime',
    webm: 'video/webm',
    mkv: 'video/x-matroska',
    avi: 'video/x-msvideo',
    wmv: 'video/x-ms-wmv',
    flv: 'video/x-flv',
    mpg: 'video/mpeg',
    mpeg: 'video/mpeg',
    ts: 'video/mp2t',
    mts: 'video/mp2t',
    m2ts: 'video/mp2t',
    '3gp': 'video/3gpp',
    ogv: 'video/ogg',
  };
  return types[ext];
}
