import { Api, ApiError } from './api.ts';
import { appStore, mergeVideos } from './store.ts';

const PROJECT_KEY = 'clipdock.project';

/** Loads the account, its projects and the current project's first videos into the store. */
export async function loadAccount(): Promise<void> {
  const [me, { projects }] = await Promise.all([Api.me(), Api.projects()]);
  const saved = localStorage.getItem(PROJECT_KEY);
  const projectId =
    projects.find((p) => p.id === saved)?.id ??
    projects.find((p) => p.isDefault)?.id ??
    projects[0]?.id ??
    null;
  appStore.set({ user: me.user, me, projects, projectId, ready: true });
  if (projectId) await loadProjectVideos(projectId);
}

export async function loadProjectVideos(projectId: string): Promise<void> {
  const { videos } = await Api.videos({ projectId, limit: 50 });
  mergeVideos(videos);
}

export async function refreshMe(): Promise<void> {
  try {
    appStore.set({ me: await Api.me() });
  } catch {
    // The panel keeps its last figures; the next change refreshes it.
  }
}

export function selectProject(projectId: string): void {
  localStorage.setItem(PROJECT_KEY, projectId);
  appStore.set({ projectId });
  void loadProjectVideos(projectId).catch(() => {});
}

/** The bearer token older versions kept in localStorage (readable by any script on the page). */
const LEGACY_TOKEN_KEY = 'clipdock.token';

/** At start-up: the HttpOnly session cookie, if any, says who is signed in; the server decides. */
export async function startSession(): Promise<void> {
  localStorage.removeItem(LEGACY_TOKEN_KEY);
  try {
    await loadAccount();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) console.warn('Could not load the account', err);
    appStore.set({ ready: true, user: null });
  }
}

export async function signIn(mode: 'signup' | 'login', email: string, password: string): Promise<void> {
  if (mode === 'signup') await Api.signup(email, password);
  else await Api.login(email, password);
  await loadAccount();
}

/** After the server ended the live socket's session (signed out elsewhere, expired): is it over? */
export async function checkStillSignedIn(): Promise<void> {
  try {
    await Api.me();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) signedOut();
  }
}

const signedOut = () => appStore.set({ user: null, me: null, projects: [], projectId: null, videos: {} });

export async function signOut(): Promise<void> {
  await Api.logout().catch(() => {});
  signedOut();
}

/** Revokes every session of the account (every browser, every login token); API tokens stay. */
export async function signOutEverywhere(): Promise<void> {
  await Api.logoutEverywhere();
  signedOut();
}
