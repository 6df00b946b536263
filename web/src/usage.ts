import { refreshMe } from './session.ts';
import { appStore } from './store.ts';

/**
 * The storage meter counts every stored byte: originals and what processing stores beside them
 * (converted video, poster, thumbnails, storyboard). Those outputs arrive when a video becomes
 * ready (or fails after storing some), so the account's figures are read again then, not only
 * when an upload finishes. Returns the unsubscribe.
 */
export function watchStorageUsage(): () => void {
  let finished = countFinished();
  return appStore.subscribe(() => {
    const n = countFinished();
    if (n === finished) return;
    finished = n;
    void refreshMe();
  });
}

function countFinished(): number {
  let n = 0;
  for (const v of Object.values(appStore.get().videos))
    if (v.status === 'ready' || v.status === 'failed') n += 1;
  return n;
}
