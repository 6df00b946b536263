/**
 * A look at the top-level boxes of an ISO-BMFF file (MP4, MOV, 3GP) by reading only their 8- or
 * 16-byte headers. It tells a file that was cut off (a box reaching past the end of the file)
 * from one whose bytes after a valid header are garbage (an unknown box type), which ffprobe
 * reports alike ("moov atom not found").
 */
export type ReadBytes = (start: number, endInclusive: number) => Promise<Buffer>;

const KNOWN_BOXES = new Set([
  'ftyp',
  'styp',
  'moov',
  'mdat',
  'free',
  'skip',
  'wide',
  'uuid',
  'meta',
  'moof',
  'mfra',
  'sidx',
  'ssix',
  'pdin',
  'prft',
  'emsg',
  'pnot',
  'junk',
  'PICT',
  'udta',
  'beam',
  'mdia',
]);

export type BoxVerdict = 'ok' | 'truncated' | 'corrupt' | 'not_iso';

export async function isIsoBmff(read: ReadBytes, size: number): Promise<boolean> {
  if (size < 12) return false;
  const head = await read(0, 11);
  return head.toString('latin1', 4, 8) === 'ftyp';
}

/** Walks at most `maxBoxes` top-level boxes. */
export async function checkIsoBoxes(read: ReadBytes, size: number, maxBoxes = 64): Promise<BoxVerdict> {
  if (!(await isIsoBmff(read, size))) return 'not_iso';
  let offset = 0;
  for (let i = 0; i < maxBoxes && offset < size; i++) {
    if (size - offset < 8) return 'truncated';
    const h = await read(offset, Math.min(size - 1, offset + 15));
    let boxSize = h.readUInt32BE(0);
    const type = h.toString('latin1', 4, 8);
    if (!KNOWN_BOXES.has(type)) return 'corrupt';
    let headerSize = 8;
    if (boxSize === 1) {
      if (h.length < 16) return 'truncated';
      boxSize = Number(h.readBigUInt64BE(8));
      headerSize = 16;
    } else if (boxSize === 0) {
      return 'ok'; // the last box runs to the end of the file
    }
    if (boxSize < headerSize) return 'corrupt';
    if (offset + boxSize > size) return 'truncated';
    offset += boxSize;
  }
  return 'ok';
}
