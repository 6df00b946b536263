import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { isAppError } from '../../src/errors.ts';
import { checkWorkBudget, DEFAULT_MAX_PIXEL_FRAMES, pixelFrames } from '../../src/media/work-budget.ts';

const refusal = (f: () => void) => {
  try {
    f();
  } catch (err) {
    if (isAppError(err)) return err;
    throw err;
  }
  return undefined;
};

describe('the work budget (pixels × frames)', () => {
  it('lets 4K at 60 fps for an hour through by default, and refuses 8K at 30 fps for 6 h', () => {
    const uhdHour = { width: 3840, height: 2160, durationSeconds: 3600, frameRate: 60 };
    expect(pixelFrames(uhdHour)).toBeLessThanOrEqual(DEFAULT_MAX_PIXEL_FRAMES);
    expect(refusal(() => checkWorkBudget(uhdHour))).toBeUndefined();
    const err = refusal(() =>
      checkWorkBudget({ width: 7680, height: 4320, durationSeconds: 6 * 3600, frameRate: 30 }),
    );
    expect(err?.code).toBe('WORK_BUDGET_EXCEEDED');
    expect(err?.status).toBe(422);
    // What would fit at that size and rate: 1.8e12 / (7680 × 4320 × 30) s = 30 min.
    expect(err?.message).toContain('takes up to 30 min');
  });

  it('reads a timestamp resolution (1000 fps) as 240 fps and a missing rate as 60 fps', () => {
    const hd = { width: 1920, height: 1080, durationSeconds: 3600 };
    expect(pixelFrames({ ...hd, frameRate: 1000 })).toBe(pixelFrames({ ...hd, frameRate: 240 }));
    expect(pixelFrames({ ...hd, frameRate: null })).toBe(pixelFrames({ ...hd, frameRate: 60 }));
    expect(refusal(() => checkWorkBudget({ ...hd, frameRate: 1000 }))).toBeUndefined();
  });

  it('takes MAX_PIXEL_FRAMES from the environment', () => {
    const base = { DATABASE_URL: 'postgres://x@localhost/db' };
    expect(loadConfig(base).limits.maxPixelFrames).toBe(DEFAULT_MAX_PIXEL_FRAMES);
    const small = loadConfig({ ...base, MAX_PIXEL_FRAMES: '1e9' }).limits.maxPixelFrames;
    expect(small).toBe(1e9);
    expect(
      refusal(() => checkWorkBudget({ width: 640, height: 480, durationSeconds: 60, frameRate: 30 }, small)),
    ).toBeUndefined();
    expect(
      refusal(() =>
        checkWorkBudget({ width: 1920, height: 1080, durationSeconds: 600, frameRate: 30 }, small),
      )?.code,
    ).toBe('WORK_BUDGET_EXCEEDED');
    expect(() => loadConfig({ ...base, MAX_PIXEL_FRAMES: 'lots' })).toThrow(/MAX_PIXEL_FRAMES/);
  });
});
