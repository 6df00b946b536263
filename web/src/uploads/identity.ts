/**
 * Is the file a person picked after a reload the one an upload started from? Name, size and
 * last-modified time say so cheaply; a SHA-256 of the first and last MiB says so for the
 * content (a file re-exported under the same name and size differs there), without reading a
 * 10 GB file whole. Stored with the upload's resume record.
 */

const MiB = 1024 * 1024;

export interface FileIdentity {
  name: string;
  size: number;
  lastModified: number;
  /** Hex SHA-256 of the first MiB followed by the last MiB; null when it was never taken. */
  fingerprint: string | null;
}

export async function fingerprintOf(file: Blob): Promise<string | null> {
  if (typeof crypto === 'undefined' || !crypto.subtle) return null;
  const head = file.slice(0, Math.min(MiB, file.size));
  const tail = file.slice(Math.max(0, file.size - MiB), file.size);
  const bytes = await new Blob([head, tail]).arrayBuffer();
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Why `file` is not the file of `expected`, in words a person can act on; null when it is.
 * A part the record does not know (an upload another browser started: no last-modified time or
 * fingerprint) is not held against the file.
 */
export async function mismatchOf(file: File, expected: FileIdentity): Promise<string | null> {
  if (file.name !== expected.name) {
    return `That is “${file.name}”, not “${expected.name}”. Pick the file this upload started from.`;
  }
  if (file.size !== expected.size) {
    return `“${file.name}” has a different size than the file this upload started from. Pick the original file.`;
  }
  if (expected.lastModified && file.lastModified !== expected.lastModified) {
    return `“${file.name}” was changed since this upload started. Pick the original file, or upload it as a new video.`;
  }
  if (expected.fingerprint) {
    const fp = await fingerprintOf(file);
    if (fp && fp !== expected.fingerprint) {
      return `“${file.name}” has different content than the file this upload started from. Pick the original file.`;
    }
  }
  return null;
}
