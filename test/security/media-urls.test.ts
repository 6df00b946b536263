import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Signer } from '../../src/accounts/signing.ts';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { startNode } from '../live/helpers.ts';
import { createSession, fakeMp4, sha256, tusCreate, waitFor } from '../uploads/helpers.ts';
import { errorCode } from './helpers.ts';

/**
 * Media elements can't send headers: the API hands out short-lived signed URLs for media GETs.
 * No SIGNING_SECRET here: the first node generates one and keeps it in the database.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
});
afterAll(async () => {
  await server?.stop();
});

type User = Awaited<ReturnType<typeof signUp>>;

/** Uploads `bytes` as one video (tus creation-with-upload) and returns its id once uploaded. */
async function uploaded(user: User, bytes: Buffer): Promise<string> {
  const { files } = await createSession(user.api, [{ name: 'clip.mp4', size: bytes.length }]);
  const res = await tusCreate(files[0]!, user.token, { length: bytes.length, body: bytes });
  expect(res.status).toBe(201);
  return files[0]!.videoId;
}
const originalUrlOf = (user: User, id: string) =>
  waitFor(async () => {
    const v = (await (await user.api(`/api/videos/${id}`)).json()) as { originalUrl?: string | null };
    return v.originalUrl ?? undefined;
  });

describe('signed media URLs', () => {
  it('serves the original to anyone holding its signed URL, for that video only', async () => {
    const user = await signUp(server.url);
    const bytesA = fakeMp4(20_000);
    const a = await uploaded(user, bytesA);
    const b = await uploaded(user, fakeMp4(20_000));
    const url = await originalUrlOf(user, a);
    expect(url).toMatch(new RegExp(`^/api/videos/${a}/original\\?sig=`));
    expect(url).not.toContain(user.token);

    const res = await fetch(`${server.url}${url}`); // no header, no cookie
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(bytesA));
    const ranged = await fetch(`${server.url}${url}`, { headers: { range: 'bytes=0-99' } });
    expect(ranged.status).toBe(206);
    expect((await fetch(`${server.url}${url}`, { method: 'HEAD' })).status).toBe(200);

    // The same signature on another video's path, or another file of the same video: refused.
    const query = url.slice(url.indexOf('?'));
    const other = await fetch(`${server.url}/api/videos/${b}/original${query}`);
    expect(other.status).toBe(403);
    expect(await errorCode(other)).toBe('SIGNED_URL_INVALID');
    expect((await fetch(`${server.url}/api/videos/${a}/outputs/poster.jpg${query}`)).status).toBe(403);
    // ... and for anything but a GET of media.
    expect((await fetch(`${server.url}/api/videos/${a}${query}`)).status).toBe(401);
    expect((await fetch(`${server.url}/api/videos/${a}${query}`, { method: 'DELETE' })).status).toBe(401);
    expect((await user.api(`/api/videos/${a}`)).status).toBe(200);
  });

  it('refuses a tampered or expired signed URL', async () => {
    const user = await signUp(server.url);
    const id = await uploaded(user, fakeMp4(10_000));
    const url = await originalUrlOf(user, id);
    const sig = new URL(url, server.url).searchParams.get('sig')!;
    const [exp, uid, mac] = sig.split('.');
    const path = `/api/videos/${id}/original`;
    const tries = {
      mac: `${exp}.${uid}.${mac!.slice(0, -1)}${mac!.endsWith('A') ? 'B' : 'A'}`,
      expiry: `${Number(exp) + 3600}.${uid}.${mac}`,
      user: `${exp}.00000000-0000-4000-8000-000000000000.${mac}`,
      garbage: 'not-a-signature',
    };
    for (const [what, s] of Object.entries(tries)) {
      const res = await fetch(`${server.url}${path}?sig=${encodeURIComponent(s)}`);
      expect(res.status, what).toBe(403);
    }
    // Correctly signed with this server's own secret, but expired a second ago.
    const secret = await server.node.ctx.db
      .selectFrom('app_secrets')
      .select('value')
      .where('name', '=', 'signing')
      .executeTakeFirstOrThrow();
    const signer = new Signer(secret.value);
    const expired = signer.mediaPath(path, user.user.id, Math.floor(Date.now() / 1000) - 1);
    const res = await fetch(`${server.url}${expired}`);
    expect(res.status).toBe(403);
    expect(await errorCode(res)).toBe('SIGNED_URL_INVALID');
    // The same, a minute ahead: proof that only the expiry was wrong.
    const fresh = signer.mediaPath(path, user.user.id, Math.floor(Date.now() / 1000) + 60);
    expect((await fetch(`${server.url}${fresh}`)).status).toBe(200);
  });

  it('shares the generated secret through the database: another node accepts the URL', async () => {
    const user = await signUp(server.url);
    const id = await uploaded(user, fakeMp4(8000));
    const url = await originalUrlOf(user, id);
    const node = await startNode({ ...server.env });
    try {
      expect((await fetch(`${node.url}${url}`)).status).toBe(200);
    } finally {
      await node.stop();
    }
  });
});
