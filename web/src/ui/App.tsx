import { useEffect, useState } from 'react';
import { startLiveStatus } from '../live.ts';
import { startSession } from '../session.ts';
import { appStore, useStore } from '../store.ts';
import { AuthScreen } from './AuthScreen.tsx';
import { Dashboard } from './Dashboard.tsx';
import { Library } from './Library.tsx';
import { TimelineView } from './Timeline.tsx';
import { TopBar } from './TopBar.tsx';
import { UploadProvider } from './upload-context.tsx';

export type Tab = 'dashboard' | 'library' | 'timeline';
const PATHS: Record<Tab, string> = { dashboard: '/', library: '/library', timeline: '/timeline' };
const tabFromPath = (p: string): Tab =>
  p.startsWith('/library') ? 'library' : p.startsWith('/timeline') ? 'timeline' : 'dashboard';

export function App() {
  const ready = useStore(appStore, (s) => s.ready);
  const user = useStore(appStore, (s) => s.user);
  useEffect(() => {
    void startSession();
  }, []);
  if (!ready) return <div className="splash" aria-busy="true" />;
  if (!user) return <AuthScreen />;
  return <SignedIn key={user.id} />;
}

function SignedIn() {
  const [tab, setTab] = useState<Tab>(() => tabFromPath(location.pathname));
  useEffect(() => startLiveStatus(), []);
  useEffect(() => {
    const onPop = () => setTab(tabFromPath(location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const go = (t: Tab) => {
    if (t !== tab) history.pushState(null, '', PATHS[t]);
    setTab(t);
  };
  return (
    <UploadProvider>
      <div className="app">
        <TopBar />
        <nav className="tabs" aria-label="Sections">
          {(['dashboard', 'library', 'timeline'] as const).map((t) => (
            <a
              key={t}
              href={PATHS[t]}
              className={t === tab ? 'tab active' : 'tab'}
              aria-current={t === tab ? 'page' : undefined}
              onClick={(e) => {
                e.preventDefault();
                go(t);
              }}
            >
              {t === 'dashboard' ? 'Upload & processing' : t === 'library' ? 'Library' : 'Timeline'}
            </a>
          ))}
        </nav>
        <main className="main">
          {tab === 'dashboard' && <Dashboard />}
          {tab === 'library' && <Library />}
          {tab === 'timeline' && <TimelineView />}
        </main>
      </div>
    </UploadProvider>
  );
}
