import type { ObjectStore } from '../storage/object-store.ts';
import type { StoredOutputs } from './types.ts';

/**
 * Bytes of each output a step stored, by key: what `video_analysis.output_sizes` holds, so the
 * storage quota counts converted videos, posters and storyboards too. Keyed by storage key, so a
 * re-run that overwrites an output replaces its size instead of adding to it.
 */
export async function outputSizes(
  store: ObjectStore,
  outputs: StoredOutputs,
): Promise<Record<string, number>> {
  const keys = Object.values(outputs).flatMap((k) => (Array.isArray(k) ? k : k ? [k] : []));
  const sizes: Record<string, number> = {};
  for (const key of keys) {
    const info = await store.head(key);
    if (info) sizes[key] = info.size;
  }
  return sizes;
}
