import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Guard for "one owner for every status change": a write of `videos.status` (a Kysely
 * `.updateTable('videos')…set({ … status: … })` or a raw `UPDATE videos SET … status`) may only
 * appear in the status owners, src/videos/{status,analysis-status,upload-status}.ts.
 */

const root = path.resolve(import.meta.dirname, '../..');
const OWNERS = ['src/videos/status.ts', 'src/videos/analysis-status.ts', 'src/videos/upload-status.ts'];

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** `status:` as a key of the object the update sets (not `enrichment_status`, not a where). */
const STATUS_KEY = /(?<![\w.])status\s*:/;

/** Every place in `text` that writes videos.status, as "line N". */
function statusWrites(text: string): string[] {
  const found: string[] = [];
  const lineOf = (i: number) => `line ${text.slice(0, i).split('\n').length}`;
  for (const m of text.matchAll(/\.updateTable\(\s*['"`]videos['"`]\s*\)/g)) {
    const start = m.index ?? 0;
    // The statement runs until its execute…() (or the next updateTable, whichever comes first).
    const rest = text.slice(start + m[0].length);
    const end = rest.search(/\.execute\w*\(|\.updateTable\(/);
    const stmt = end === -1 ? rest : rest.slice(0, end);
    const set = stmt.indexOf('.set(');
    if (set === -1) continue;
    const where = stmt.indexOf('.where(', set);
    const setPart = stmt.slice(set, where === -1 ? undefined : where);
    if (STATUS_KEY.test(setPart)) found.push(lineOf(start));
  }
  for (const m of text.matchAll(/update\s+videos\s+set\b[^;`]*?(?<![\w.])status\s*=/gi)) {
    found.push(lineOf(m.index ?? 0));
  }
  return found;
}

describe('status owner guard', () => {
  it('detects a status write in the shapes the code uses', () => {
    expect(
      statusWrites(
        `await tx.updateTable('videos').set({ status: 'uploaded', x: 1 }).where('id', '=', id).execute();`,
      ),
    ).toHaveLength(1);
    expect(
      statusWrites(`tx
        .updateTable('videos')
        .set((eb) => ({
          received_bytes: 1,
          status: eb.val('failed'),
        }))
        .where('status', '=', 'uploading')
        .returningAll()
        .executeTakeFirst()`),
    ).toHaveLength(1);
    expect(
      statusWrites('await sql`UPDATE videos SET updated_at = now(), status = $1 WHERE id = $2`.execute(db);'),
    ).toHaveLength(1);
    // Not status writes: a filter on status, another table, another column.
    expect(
      statusWrites(`tx.updateTable('videos').set({ received_bytes: 1 }).where('status', '=', 'uploading').execute();
        tx.updateTable('video_analysis').set({ enrichment_status: 'running', status: 'x' }).execute();
        tx.updateTable('webhook_deliveries').set({ status: 'failed' }).execute();`),
    ).toEqual([]);
  });

  it('finds no write of videos.status outside src/videos/{status,analysis-status,upload-status}.ts', async () => {
    const files = await sourceFiles(path.join(root, 'src'));
    expect(files.length).toBeGreaterThan(50);
    const offenders: string[] = [];
    let ownerWrites = 0;
    for (const file of files) {
      const rel = path.relative(root, file).split(path.sep).join('/');
      const writes = statusWrites(await readFile(file, 'utf8'));
      if (OWNERS.includes(rel)) ownerWrites += writes.length;
      else offenders.push(...writes.map((w) => `${rel} ${w}`));
    }
    expect(offenders).toEqual([]);
    // The guard sees the owners' own writes (it would see anyone else's the same way).
    expect(ownerWrites).toBeGreaterThanOrEqual(8);
  });
});
