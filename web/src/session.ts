import { Api, ApiError } from './api.ts';
import { appStore, mergeVideos } from './store.ts';

const PROJECT_KEY = 'clipdock.project';
/**
 * Set while this browser holds a session. The session cookie is HttpOnly (no script reads it),
 * so without this hint the app could only learn "nobody is signed in" from a 401 of /api/me,
 * which the browser logs as an error on every visit of the sign-in page. A browser signed in
 * before the hint existed is recognised only by the project key (kept once a project was
 * picked); otherwise it shows the sign-in page once.
 */
const SIGNED_IN_KEY = 'clipdock.signedIn';
const mayHaveSession = () =>
  localStorage.getItem(SIGNED_IN_KEY) !== null || localStorage.getItem(PROJECT_KEY) !== null;

/** Loads the account, its projects and the current project's first videos into the store. */
export async function loadAccount(): Promise<void> {
  const [me, { projects }] = await Promise.all([Api.me(), Api.projects()]);
  const saved = localStorage.getItem(PROJECT_KEY);
  const projectId =
    projects.find((p) => p.id === saved)?.id ??
    projects.find((p) => p.isDefault)?.id ??
    projects[0]?.id ??
    null;
  localStorage.setItem(SIGNED_IN_KEY, '1');
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
  if (!mayHaveSession()) {
    appStore.set({ ready: true, user: null });
    return;
  }
  try {
    await loadAccount();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) forgetSession();
    else console.warn('Could not load the account', err);
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

function forgetSession(): void {
  localStorage.removeItem(SIGNED_IN_KEY);
  localStorage.removeItem(PROJECT_KEY);
}

function signedOut(): void {
  forgetSession();
  appStore.set({ user: null, me: null, projects: [], projectId: null, videos: {} });
}

export async function signOut(): Promise<void> {
  await Api.logout().catch(() => {});
  signedOut();
}

/** Revokes every session of the account (every browser, every login token); API tokens stay. */
export async function signOutEverywhere(): Promise<void> {
  await Api.logoutEverywhere();
  signedOut();
}
