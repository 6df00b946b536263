import fs from 'node:fs';

/**
 * File-system calls for the partial file's `fs.WriteStream` that give a request body's memory
 * back as soon as its bytes are on disk, instead of when V8 next collects garbage.
 *
 * Node's HTTP parser copies every body read (up to 64 KiB) into a fresh Buffer of its own; that
 * memory is "external" to the V8 heap and is freed only when a GC finds the Buffer dead. An
 * upload moves hundreds of MiB/s through such Buffers, so between two GCs tens to hundreds of MiB
 * of dead body chunks sit in the process (8 concurrent uploads: RSS +150 MiB, of which ~95 % is
 * `arrayBuffers`; bench/RESULTS.md), and V8 runs a full GC every ~64 MiB of them, stalling every
 * socket each time. Once a chunk has been written to the file nothing reads it again (the
 * stream hands it to `write`/`writev` and drops it), so after a complete write its ArrayBuffer is
 * detached (`transfer(0)`), which frees the memory at once: the same few MiB are reused for the
 * whole upload, and the GC has nothing external to chase.
 *
 * Only a chunk that is the sole view of a whole ArrayBuffer of its own is released (what the
 * HTTP parser produces); pooled or sliced Buffers, shared memory and partial writes (the stream
 * retries those from the same chunks) are left to the GC as before. Whoever opens a stream with
 * these calls promises that nothing else keeps a written chunk: here, the request body stream.
 */

/** Chunks below this size are not worth a detach (and are likely pooled). */
const MIN_RELEASE_BYTES = 4096;

/**
 * Frees `chunk`'s memory now, when it owns its whole ArrayBuffer (a socket read, a part buffer).
 * The caller promises that nothing, JS or native, still reads it.
 */
export function releaseChunk(chunk: ArrayBufferView): void {
  const memory = chunk.buffer;
  if (
    !(memory instanceof ArrayBuffer) ||
    memory.resizable ||
    chunk.byteOffset !== 0 ||
    chunk.byteLength !== memory.byteLength ||
    chunk.byteLength < MIN_RELEASE_BYTES
  ) {
    return;
  }
  try {
    memory.transfer(0);
  } catch {
    // Not detachable (e.g. held by native code): the GC frees it as before.
  }
}

type WriteCallback = (err: NodeJS.ErrnoException | null, bytesWritten: number, buffer: Buffer) => void;
type WritevCallback = (err: NodeJS.ErrnoException | null, bytesWritten: number, buffers: Buffer[]) => void;

/** The `fs` option of `fs.createWriteStream`: the real calls, releasing what was fully written. */
export const releasingFs = {
  open: fs.open,
  close: fs.close,
  write(
    fd: number,
    buffer: Buffer,
    offset: number,
    length: number,
    position: number | null,
    cb: WriteCallback,
  ): void {
    fs.write(fd, buffer, offset, length, position, (err, bytesWritten, buf) => {
      if (!err && offset === 0 && bytesWritten === buffer.byteLength) {
        cb(null, bytesWritten, buf);
        releaseChunk(buffer);
        return;
      }
      cb(err, bytesWritten, buf);
    });
  },
  writev(fd: number, buffers: Buffer[], position: number | null, cb: WritevCallback): void {
    fs.writev(fd, buffers, position, (err, bytesWritten, bufs) => {
      const total = buffers.reduce((n, b) => n + b.byteLength, 0);
      cb(err, bytesWritten, bufs);
      if (!err && bytesWritten === total) for (const b of buffers) releaseChunk(b);
    });
  },
};
