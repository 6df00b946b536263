/** Sizes as people read them in messages: "2.5 GB", "830 KB" (powers of 1024, short units). */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  return `${v >= 100 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Two sizes that must read as different ("is X; the limit is Y"): exact bytes when rounding would hide it. */
export function formatBytesApart(a: number, b: number): [string, string] {
  const [x, y] = [formatBytes(a), formatBytes(b)];
  if (x !== y || a === b) return [x, y];
  return [`${a.toLocaleString('en-US')} bytes`, `${b.toLocaleString('en-US')} bytes`];
}
