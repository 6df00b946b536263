import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { plainReporter, ttyReporter } from '../../src/cli/upload/progress.ts';

/** A stream that records what was written, shaped like a terminal of the given size. */
function terminal(columns: number, rows: number) {
  const out = Object.assign(new PassThrough(), { isTTY: true, columns, rows });
  let text = '';
  out.on('data', (d: Buffer) => {
    text += d.toString();
  });
  return { out: out as unknown as NodeJS.WriteStream, text: () => text };
}

describe('upload progress output', () => {
  it('draws a bar per running file and an overall bar on a terminal, notes above them', async () => {
    const term = terminal(100, 30);
    const report = ttyReporter(term.out, () => 3000);
    report.add('a', 'first.mov', 1000);
    report.add('b', 'second.mov', 2000);
    report.progress('a', 500);
    report.progress('b', 500);
    report.note('✓ something noted');
    report.close();
    await new Promise((r) => setImmediate(r));
    const lines = term.text().split('\n');
    expect(lines[0]).toBe('✓ something noted');
    const last = lines.filter((l) => l.includes('%')).slice(-3);
    expect(last[0]).toMatch(/^first\.mov +\[#+-+\] +50% 500 bytes of 1000 bytes$/);
    expect(last[1]).toMatch(/^second\.mov +\[#+-+\] +25% 500 bytes of 2.0 KB$/);
    expect(last[2]).toMatch(/^Overall +\[#+-+\] +33% 1000 bytes of 2.9 KB, /);
    for (const l of last) expect(l.length).toBeLessThanOrEqual(100);
  });

  it('prints plain lines in steps of 10 % when not on a terminal', async () => {
    const term = terminal(0, 0);
    const report = plainReporter(term.out);
    report.add('a', 'clip.mp4', 1000);
    for (const sent of [0, 50, 120, 150, 990, 1000]) report.progress('a', sent);
    report.note('✓ clip.mp4: uploaded');
    await new Promise((r) => setImmediate(r));
    expect(term.text().trim().split('\n')).toEqual([
      'clip.mp4: 0% (0 bytes of 1000 bytes)',
      'clip.mp4: 10% (120 bytes of 1000 bytes)',
      'clip.mp4: 90% (990 bytes of 1000 bytes)',
      'clip.mp4: 100% (1000 bytes of 1000 bytes)',
      '✓ clip.mp4: uploaded',
    ]);
  });
});
