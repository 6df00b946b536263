import { useEffect, useState } from 'react';
import { startLiveStatus } from '../live.ts';
import { startSession } from '../session.ts';
import { appStore, useStore } from '../store.ts';
import { loadTimeline } from '../timeline.ts';
import { watchStorageUsage } from '../usage.ts';
import { Admin } from './Admin.tsx';
import { AuthScreen } from './AuthScreen.tsx';
import { Dashboard } from './Dashboard.tsx';
import { Library } from './Library.tsx';
import { Settings } from './Settings.tsx';
import { TimelineView } from './Timeline.tsx';
import { TopBar } from './TopBar.tsx';
import { UploadStatusBar } from './UploadStatusBar.tsx';
import { UploadProvider } from './upload-context.tsx';

export type Tab = 'dashboard' | 'library' | 'timeline' | 'settings' | 'admin';
const PATHS: Record<Tab, string> = {
  dashboard: '/',
  library: '/library',
  timeline: '/timeline',
  settings: '/settings',
  admin: '/admin',
};
const LABELS: Record<Tab, string> = {
  dashboard: 'Upload & processing',
  library: 'Library',
  timeline: 'Timeline',
  settings: 'Settings',
  admin: 'Admin',
};
const TABS = Object.keys(PATHS) as Tab[];
const tabFromPath = (p: string): Tab =>
  TABS.find((t) => t !== 'dashboard' && p.startsWith(PATHS[t])) ?? 'dashboard';

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
  // The admin tab is for administrators only; the server refuses its API to anyone else anyway.
  const isAdmin = useStore(appStore, (s) => s.user?.isAdmin === true);
  const [tab, setTab] = useState<Tab>(() => tabFromPath(location.pathname));
  const projectId = useStore(appStore, (s) => s.projectId);
  useEffect(() => startLiveStatus(), []);
  useEffect(() => watchStorageUsage(), []);
  // Every page knows what the timeline holds (the dashboard's "On timeline" survives a reload).
  useEffect(() => {
    if (projectId) void loadTimeline(projectId);
  }, [projectId]);
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
          {TABS.filter((t) => t !== 'admin' || isAdmin).map((t) => (
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
              {LABELS[t]}
            </a>
          ))}
        </nav>
        <UploadStatusBar onShow={() => go('dashboard')} />
        <main className="main">
          {(tab === 'dashboard' || (tab === 'admin' && !isAdmin)) && <Dashboard />}
          {tab === 'library' && <Library />}
          {tab === 'timeline' && <TimelineView />}
          {tab === 'settings' && <Settings />}
          {tab === 'admin' && isAdmin && <Admin />}
        </main>
      </div>
    </UploadProvider>
  );
}
