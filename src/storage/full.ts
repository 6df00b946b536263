/**
 * A write the storage refused for lack of room: a full disk (ENOSPC), a user or group quota
 * (EDQUOT), a file size limit (EFBIG), or an S3-compatible store that reports itself full.
 * Clipdock answers these with STORAGE_FULL (507), logs them, and keeps nothing half-written
 * beyond an upload's resumable bytes.
 */
const FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
/** What S3-compatible servers call it (MinIO, Ceph RGW, and the generic quota errors). */
const FULL_NAMES = new Set(['XMinioStorageFull', 'QuotaExceeded', 'StorageFull', 'InsufficientStorage']);

export function isStorageFull(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, name, Code, $metadata, cause } = e as {
      code?: unknown;
      name?: unknown;
      Code?: unknown;
      $metadata?: { httpStatusCode?: number };
      cause?: unknown;
    };
    if (typeof code === 'string' && (FULL_CODES.has(code) || FULL_NAMES.has(code))) return true;
    if (typeof name === 'string' && FULL_NAMES.has(name)) return true;
    if (typeof Code === 'string' && FULL_NAMES.has(Code)) return true;
    if ($metadata?.httpStatusCode === 507) return true;
    e = cause;
  }
  return false;
}
