import { AppError } from '../errors.ts';

/**
 * A budget for the work one video may cost: pixels per frame × frames. Duration and picture size
 * are each limited on their own (MAX_DURATION_SECONDS, MAX_DIMENSION), but a file may sit under
 * both and still ask for days of decoding (8K for six hours). Checked at probe, from what the
 * file declares, before any decoding starts.
 */

/** 3840×2160 at 60 fps for one hour (1.79e12) passes; 7680×4320 at 30 fps for 6 h (2.1e13) does not. */
export const DEFAULT_MAX_PIXEL_FRAMES = 1.8e12;

/**
 * Frame rates above this are timestamp resolutions (Matroska's 1000/1, MPEG-TS's 90000/1), not
 * pictures: no camera films faster, so they are read as this.
 */
const MAX_PLAUSIBLE_FPS = 240;
/** When a file states no rate at all, count it as 60 fps: a 4K hour still fits the default. */
const ASSUMED_FPS = 60;

export interface WorkShape {
  width: number;
  height: number;
  durationSeconds: number;
  frameRate: number | null;
}

export function pixelFrames(v: WorkShape): number {
  const fps = v.frameRate && v.frameRate > 0 ? Math.min(v.frameRate, MAX_PLAUSIBLE_FPS) : ASSUMED_FPS;
  return v.width * v.height * fps * v.durationSeconds;
}

/** Throws WORK_BUDGET_EXCEEDED, saying what would fit, when the video asks for more than `maxPixelFrames`. */
export function checkWorkBudget(v: WorkShape, maxPixelFrames: number = DEFAULT_MAX_PIXEL_FRAMES): void {
  const work = pixelFrames(v);
  if (work <= maxPixelFrames) return;
  const fps = v.frameRate && v.frameRate > 0 ? Math.min(v.frameRate, MAX_PLAUSIBLE_FPS) : ASSUMED_FPS;
  const fitsSeconds = maxPixelFrames / (v.width * v.height * fps);
  throw new AppError(
    'WORK_BUDGET_EXCEEDED',
    `This video is ${v.width}×${v.height} at ${round(fps)} fps for ${hours(v.durationSeconds)}: more picture than this server converts for one video (MAX_PIXEL_FRAMES). At this size and frame rate it takes up to ${hours(fitsSeconds)}; export it shorter, at a lower resolution or frame rate, then upload again.`,
    { pixelFrames: work, maxPixelFrames },
  );
}

const round = (n: number) => Math.round(n * 100) / 100;

function hours(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min` : `${Math.max(1, Math.round(seconds))} s`;
}
