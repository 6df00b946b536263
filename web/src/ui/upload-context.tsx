import { createContext, type ReactNode, useContext, useEffect, useState } from 'react';
import { refreshMe } from '../session.ts';
import { appStore } from '../store.ts';
import { UploadManager } from '../uploads/manager.ts';

const UploadContext = createContext<UploadManager | null>(null);

/** One upload manager for the signed-in app; disposed (uploads aborted, listeners removed) on sign-out. */
export function UploadProvider({ children }: { children: ReactNode }) {
  const [manager, setManager] = useState<UploadManager | null>(null);
  useEffect(() => {
    const concurrency = Number(new URLSearchParams(location.search).get('concurrency')) || 3;
    const m = new UploadManager({
      concurrency,
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
    return () => {
      unsub();
      m.dispose();
    };
  }, []);
  if (!manager) return null;
  return <UploadContext.Provider value={manager}>{children}</UploadContext.Provider>;
}

export function useUploads(): UploadManager {
  const m = useContext(UploadContext);
  if (!m) throw new Error('useUploads outside UploadProvider');
  return m;
}
