import type { Step } from './step.ts';

/** Learns what the original is, or refuses it with a media error code (permanent). */
export const probeStep: Step<'probe'> = async (c) => {
  c.onProgress(0);
  const info = await c.media.probe(c.original, c.signal);
  c.onProgress(1);
  return info;
};
