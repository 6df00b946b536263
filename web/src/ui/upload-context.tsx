import { createContext, type ReactNode, useContext, useEffect, useState } from 'react';
import { refreshMe } from '../session.ts';
import { appStore } from '../store.ts';
import { Uploader } from '../uploads/interrupted.ts';

const UploadContext = createContext<Uploader | null>(null);

/** One upload manager for the signed-in app; disposed (uploads aborted, listeners removed) on sign-out. */
export function UploadProvider({ children }: { children: ReactNode }) {
  const [manager, setManager] = useState<Uploader | null>(null);
  useEffect(() => {
    const query = new URLSearchParams(location.search);
    const concurrency = Number(query.get('concurrency')) || 3;
    // Smaller chunks (tests, slow links) store progress on the server sooner.
    const chunkKiB = Number(query.get('chunkKiB')) || 0;
    const m = new Uploader({
      concurrency,
      ...(chunkKiB > 0 ? { chunkSize: chunkKiB * 1024 } : {}),
      getProjectId: () => appStore.get().projectId,
      getFreeBytes: () => {
        const me = appStore.get().me;
        return me ? me.storage.quotaBytes - me.storage.usedBytes : Number.POSITIVE_INFINITY;
      },
      getLimits: () => appStore.get().me?.limits,
    });
    setManager(m);
    void m.restore();
    // Credits and storage change when uploads complete; re-read them then.
    let completed = 0;
    const unsub = m.store.subscribe(() => {
      const n = m.store.get().rows.filter((r) => r.state === 'complete').length;
      if (n !== completed) {
        completed = n;
        void refreshMe();
      }
    });
    // Leaving or reloading the page stops this tab's uploads: warn while bytes remain.
    const onBeforeUnload = (e: BeforeUnloadEvent) => {
      if (m.bytesRemaining() <= 0) return;
      e.preventDefault();
      e.returnValue = '';
    };
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => {
      window.removeEventListener('beforeunload', onBeforeUnload);
      unsub();
      m.dispose();
    };
  }, []);
  if (!manager) return null;
  return <UploadContext.Provider value={manager}>{children}</UploadContext.Provider>;
}

export function useUploads(): Uploader {
  const m = useContext(UploadContext);
  if (!m) throw new Error('useUploads outside UploadProvider');
  return m;
}
