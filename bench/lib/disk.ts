import { execFile } from 'node:child_process';
import { randomFill } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { MiB } from './table.ts';

/** An input the content sniffer accepts: an MP4 `ftyp` box, then random bytes. */
export async function makeInput(file: string, size: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    const ftyp = Buffer.alloc(24);
    ftyp.writeUInt32BE(24, 0);
    ftyp.write('ftypisom', 4, 'latin1');
    ftyp.writeUInt32BE(0x200, 12);
    ftyp.write('isommp41', 16, 'latin1');
    await fh.write(ftyp);
    const buf = Buffer.alloc(8 * MiB);
    for (let written = ftyp.length; written < size; ) {
      const n = Math.min(buf.length, size - written);
      await promisify(randomFill)(buf);
      await fh.write(buf, 0, n);
      written += n;
    }
  } finally {
    await fh.close();
  }
}

/** Dirty + Writeback of the page cache, in bytes (/proc/meminfo). */
async function unwrittenBytes(): Promise<number> {
  const info = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  let kib = 0;
  for (const m of info.matchAll(/^(?:Dirty|Writeback):\s+(\d+) kB/gm)) kib += Number(m[1]);
  return kib * 1024;
}

/**
 * Waits until the disk has caught up with what the previous measurement wrote. Otherwise the
 * server measured next (always the same one, in the same order) starts with gigabytes still
 * being written back and is throttled by the kernel sooner: 8 × 1 GiB is past the default dirty
 * limits on most machines.
 */
export async function settleDisk(): Promise<void> {
  await promisify(execFile)('sync').catch(() => {});
  for (let i = 0; i < 600 && (await unwrittenBytes()) > 64 * MiB; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
}
