import { type RefObject, useEffect, useState } from 'react';

/** Height of one upload row when the list is windowed (CSS `.upload-rows.windowed` keeps rows this tall). */
export const ROW_HEIGHT = 76;
/** Up to this many rows the list renders every row; beyond it only those near the viewport. */
export const WINDOW_FROM = 100;
const OVERSCAN = 12;

/**
 * Which rows of a long list to render: those in or near the viewport, from where the list's top
 * is on screen. Any scroll (the window's or a container's) and resizes move the window.
 */
export function useRowWindow(
  list: RefObject<HTMLElement | null>,
  count: number,
): { start: number; end: number; windowed: boolean } {
  const windowed = count > WINDOW_FROM;
  const [range, setRange] = useState({ start: 0, end: Math.min(count, 40) });
  useEffect(() => {
    if (!windowed) return;
    const measure = () => {
      const top = list.current?.getBoundingClientRect().top ?? 0;
      const start = Math.max(0, Math.floor(-top / ROW_HEIGHT) - OVERSCAN);
      const end = Math.min(count, start + Math.ceil(window.innerHeight / ROW_HEIGHT) + 2 * OVERSCAN);
      setRange((r) => (r.start === start && r.end === end ? r : { start, end }));
    };
    measure();
    document.addEventListener('scroll', measure, { capture: true, passive: true });
    window.addEventListener('resize', measure);
    return () => {
      document.removeEventListener('scroll', measure, { capture: true });
      window.removeEventListener('resize', measure);
    };
  }, [list, count, windowed]);
  return windowed ? { ...range, windowed } : { start: 0, end: count, windowed };
}
