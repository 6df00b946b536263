/**
 * Small inline-SVG charts for the admin page. Plain SVG elements with presentation attributes
 * (no `style` attributes, no injected <style>, no library), so they render under the app's
 * strict Content Security Policy (style-src 'self'). Colours come from admin.css classes.
 */

export interface Series {
  label: string;
  /** One value per point; null is a gap (no data that day). */
  values: Array<number | null>;
  /** CSS class of the bars or line (admin.css). */
  className: string;
}

const W = 1000;
const H = 160;
const PAD = { top: 10, right: 8, bottom: 22, left: 52 };

/**
 * Bars for the first series, and a line with markers for an optional second one, over shared
 * x labels (days). Each point has a <title>, which browsers show as a tooltip.
 */
export function DayChart({
  title,
  labels,
  bars,
  line,
  format,
  testId,
}: {
  title: string;
  labels: string[];
  bars: Series;
  line?: Series;
  format: (v: number) => string;
  testId?: string;
}) {
  const all = [...bars.values, ...(line?.values ?? [])].filter((v): v is number => v !== null);
  if (!all.some((v) => v > 0)) {
    return (
      <figure className="chart" data-testid={testId}>
        <figcaption>{title}</figcaption>
        <p className="empty muted small">Nothing in this period.</p>
      </figure>
    );
  }
  const max = Math.max(1e-9, ...all);
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const step = innerW / Math.max(1, labels.length);
  const y = (v: number) => PAD.top + innerH - (v / max) * innerH;
  const x = (i: number) => PAD.left + i * step + step / 2;
  const barW = Math.max(1, step * 0.7);
  const every = Math.max(1, Math.ceil(labels.length / 8));
  const points = line?.values
    .map((v, i) => (v === null ? null : ([x(i), y(v), v, i] as const)))
    .filter((p) => p !== null);

  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>
        {title}
        <span className="chart-legend">
          <span className={`swatch ${bars.className}`} aria-hidden="true" /> {bars.label}
          {line && (
            <>
              {' '}
              <span className={`swatch ${line.className}`} aria-hidden="true" /> {line.label}
            </>
          )}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title} className="chart-svg">
        <line className="chart-axis" x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} />
        <text className="chart-tick" x={PAD.left - 6} y={y(max) + 4} textAnchor="end">
          {format(max)}
        </text>
        <text className="chart-tick" x={PAD.left - 6} y={y(0)} textAnchor="end">
          0
        </text>
        {bars.values.map((v, i) =>
          v === null || v === 0 ? null : (
            <rect
              key={labels[i]}
              className={`chart-bar ${bars.className}`}
              data-testid="chart-bar"
              x={x(i) - barW / 2}
              y={y(v)}
              width={barW}
              height={Math.max(1, y(0) - y(v))}
            >
              <title>{`${labels[i]}: ${format(v)}`}</title>
            </rect>
          ),
        )}
        {line && points && points.length > 0 && (
          <>
            <polyline
              className={`chart-line ${line.className}`}
              fill="none"
              points={points.map((p) => `${p[0]},${p[1]}`).join(' ')}
            />
            {points.map(([px, py, v, i]) => (
              <circle key={labels[i]} className={`chart-dot ${line.className}`} cx={px} cy={py} r={3}>
                <title>{`${labels[i]}: ${line.label} ${format(v)}`}</title>
              </circle>
            ))}
          </>
        )}
        {labels.map((l, i) =>
          i % every === 0 || i === labels.length - 1 ? (
            <text key={l} className="chart-tick" x={x(i)} y={H - 6} textAnchor="middle">
              {l.slice(5)}
            </text>
          ) : null,
        )}
      </svg>
    </figure>
  );
}

/** Horizontal bars, one per row (failures by code), scaled to the largest. */
export function BarList({
  rows,
  format,
  testId,
}: {
  rows: Array<{ label: string; value: number; note?: string }>;
  format: (v: number) => string;
  testId?: string;
}) {
  const max = Math.max(1e-9, ...rows.map((r) => r.value));
  return (
    <ul className="bar-list" data-testid={testId}>
      {rows.map((r) => (
        <li key={r.label} data-testid="bar-row">
          <code>{r.label}</code>
          <svg viewBox="0 0 100 10" preserveAspectRatio="none" className="bar-list-svg" aria-hidden="true">
            <rect className="chart-bar bad-fill" x={0} y={0} height={10} width={(r.value / max) * 100} />
          </svg>
          <span className="num">
            {format(r.value)}
            {r.note ? <span className="muted"> {r.note}</span> : null}
          </span>
        </li>
      ))}
    </ul>
  );
}
