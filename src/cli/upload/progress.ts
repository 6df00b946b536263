import { formatBytes } from '../../format.ts';

/** What the uploader tells the person watching, as it happens. */
export interface Reporter {
  /** A line that stays (a file done, refused, resumed...). */
  note(line: string): void;
  add(id: string, name: string, size: number): void;
  /** Bytes the server holds or has been sent, for file `id`. */
  progress(id: string, sent: number): void;
  /** The file left the live view; its outcome was noted. */
  remove(id: string): void;
  close(): void;
}

interface Row {
  name: string;
  size: number;
  sent: number;
  /** Last 10 % step printed, in plain mode. */
  step: number;
}

/** Nothing at all (--quiet). */
export const silentReporter: Reporter = {
  note() {},
  add() {},
  progress() {},
  remove() {},
  close() {},
};

/**
 * Lines for logs and pipes: each note, and each file's progress in steps of 10 %.
 */
export function plainReporter(out: NodeJS.WritableStream): Reporter {
  const rows = new Map<string, Row>();
  return {
    note: (line) => out.write(`${line}\n`),
    add: (id, name, size) => rows.set(id, { name, size, sent: 0, step: -1 }),
    progress(id, sent) {
      const row = rows.get(id);
      if (!row) return;
      row.sent = sent;
      const step = Math.floor(percent(sent, row.size) / 10);
      if (step > row.step) {
        row.step = step;
        out.write(`${row.name}: ${step * 10}% (${formatBytes(sent)} of ${formatBytes(row.size)})\n`);
      }
    },
    remove: (id) => rows.delete(id),
    close() {},
  };
}

/**
 * A live view on a terminal: one bar per running file and one overall, redrawn in place at most
 * ten times a second, with notes scrolling above it.
 */
export function ttyReporter(out: NodeJS.WriteStream, totalBytes: () => number): Reporter {
  const rows = new Map<string, Row>();
  const started = Date.now();
  let doneBytes = 0;
  /** Speed counts the time bytes were moving, not a --wait after them. */
  let lastActivity = started;
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;

  const clear = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    timer = undefined;
    clear();
    const width = Math.max(40, Math.min(out.columns || 80, 120));
    const maxRows = Math.max(1, (out.rows || 24) - 3);
    const lines: string[] = [];
    let running = 0;
    for (const row of rows.values()) {
      running += row.sent;
      if (lines.length < maxRows) lines.push(barLine(row.name, row.sent, row.size, width));
    }
    if (rows.size > lines.length) lines.push(`  … and ${rows.size - lines.length} more`);
    const sent = doneBytes + running;
    const total = totalBytes();
    const seconds = (lastActivity - started) / 1000;
    const speed = seconds > 0 ? sent / seconds : 0;
    const left = speed > 0 ? Math.max(0, (total - sent) / speed) : 0;
    const eta = rows.size > 0 ? `, ${formatTime(left)} left` : '';
    const tail = `${formatBytes(sent)} of ${formatBytes(total)}, ${formatBytes(speed)}/s${eta}`;
    lines.push(barLine('Overall', sent, total, width, tail));
    out.write(`${lines.join('\n')}\n`);
    drawn = lines.length;
  };
  const schedule = () => {
    timer ??= setTimeout(draw, 100);
  };

  return {
    note(line) {
      clear();
      out.write(`${line}\n`);
      schedule();
    },
    add(id, name, size) {
      rows.set(id, { name, size, sent: 0, step: 0 });
      schedule();
    },
    progress(id, sent) {
      const row = rows.get(id);
      if (row) row.sent = sent;
      lastActivity = Date.now();
      schedule();
    },
    remove(id) {
      const row = rows.get(id);
      if (row) doneBytes += row.sent;
      rows.delete(id);
      lastActivity = Date.now();
      schedule();
    },
    close() {
      if (timer) clearTimeout(timer);
      if (rows.size > 0 || doneBytes > 0) draw();
      timer = undefined;
    },
  };
}

function barLine(name: string, sent: number, size: number, width: number, tail?: string): string {
  const pct = percent(sent, size);
  const right = tail ?? `${formatBytes(sent)} of ${formatBytes(size)}`;
  const label = fitTo(name, Math.max(10, Math.floor(width * 0.3)));
  const barWidth = Math.max(10, width - label.length - right.length - 9);
  const filled = Math.round((pct / 100) * barWidth);
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${String(pct).padStart(3)}% ${right}`;
}

function percent(sent: number, size: number): number {
  return size > 0 ? Math.min(100, Math.floor((sent / size) * 100)) : 100;
}

function fitTo(s: string, n: number): string {
  return s.length <= n ? s.padEnd(n) : `${s.slice(0, n - 1)}…`;
}

function formatTime(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
