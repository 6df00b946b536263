import WebSocket from 'ws';

/** What a browser keeps of a sign-in: the cookie jar entry (`name=value`) and the body's token. */
export interface BrowserSignIn {
  token: string;
  user: { id: string; email: string };
  email: string;
  cookie: string;
  setCookie: string;
}

export const newEmail = () => `u${Math.random().toString(36).slice(2)}@example.com`;
export const PASSWORD = 'correct horse battery';

/** The `name=value` part of the session cookie a response sets, and the whole header. */
export function sessionCookieOf(res: Response): { cookie: string; setCookie: string } {
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('clipdock_token='));
  if (!setCookie) throw new Error(`no session cookie in ${JSON.stringify(res.headers.getSetCookie())}`);
  return { cookie: setCookie.split(';')[0]!, setCookie };
}

export async function signInAsBrowser(
  baseUrl: string,
  mode: 'signup' | 'login' = 'signup',
  email = newEmail(),
): Promise<BrowserSignIn> {
  const res = await fetch(`${baseUrl}/api/auth/${mode}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (res.status !== (mode === 'signup' ? 201 : 200))
    throw new Error(`${mode}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: string; user: { id: string; email: string } };
  return { ...body, email, ...sessionCookieOf(res) };
}

export const errorCode = async (res: Response) =>
  ((await res.json()) as { error?: { code?: string } }).error?.code;

/**
 * Opens `/api/ws` as the given client would. Resolves with the open socket and its first message,
 * or with the HTTP status of the refused upgrade.
 */
export function openSocket(
  baseUrl: string,
  opts: { query?: string; headers?: Record<string, string>; origin?: string } = {},
): Promise<{ ws: WebSocket; first: Promise<unknown> } | { status: number }> {
  const url = `${baseUrl.replace(/^http/, 'ws')}/api/ws${opts.query ?? ''}`;
  const ws = new WebSocket(url, { headers: opts.headers, ...(opts.origin ? { origin: opts.origin } : {}) });
  const first = new Promise<unknown>((resolve) =>
    ws.once('message', (d) => resolve(JSON.parse(d.toString()))),
  );
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, first }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once('error', (err) => reject(err));
  });
}
