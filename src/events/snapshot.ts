/**
 * PostgreSQL snapshot arithmetic. A reader that takes a snapshot of videos (`pg_current_snapshot()`
 * in the same statement) and also receives live events needs to know, per event, whether the
 * snapshot already shows that change. Replaying such an event after the snapshot would move a
 * client back to an older state; dropping a newer one would lose a change. Comparing the
 * publishing transaction's id with the snapshot answers it exactly, with no clocks involved.
 */
export interface Snapshot {
  xmin: bigint;
  xmax: bigint;
  inProgress: Set<bigint>;
}

/** Parses the text form of pg_snapshot: "xmin:xmax:xip1,xip2,...". */
export function parseSnapshot(text: string): Snapshot | undefined {
  const m = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim());
  if (!m) return undefined;
  return {
    xmin: BigInt(m[1]!),
    xmax: BigInt(m[2]!),
    inProgress: new Set(m[3] ? m[3].split(',').map((x) => BigInt(x)) : []),
  };
}

/** True when the transaction `xid` had committed as seen by the snapshot (pg_visible_in_snapshot). */
export function visibleInSnapshot(xid: string, snap: Snapshot): boolean {
  let x: bigint;
  try {
    x = BigInt(xid);
  } catch {
    return false;
  }
  if (x < snap.xmin) return true;
  if (x >= snap.xmax) return false;
  return !snap.inProgress.has(x);
}
