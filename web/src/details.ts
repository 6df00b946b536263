import { useEffect } from 'react';
import { Api, type Video } from './api.ts';
import { mergeVideos } from './store.ts';

const requested = new Set<string>();

/** Makes sure a ready video's analysis and outputs are in the store (fetched once, not polled). */
export function useVideoDetail(video: Video | undefined): void {
  const id = video?.id;
  const need =
    !!video && video.status === 'ready' && (!video.outputs || video.analysis?.durationSeconds === undefined);
  useEffect(() => {
    if (!id || !need || requested.has(id)) return;
    requested.add(id);
    Api.video(id)
      .then((v) => mergeVideos([v]))
      .catch(() => requested.delete(id));
  }, [id, need]);
}

export function durationOf(v: Video | undefined): number | null {
  return v?.analysis?.durationSeconds ?? v?.durationSeconds ?? null;
}
