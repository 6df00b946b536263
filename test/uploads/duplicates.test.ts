import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ CLIPDOCK_ROLE: 'api' });
});
afterAll(async () => {
  await server?.stop();
});

type User = Awaited<ReturnType<typeof signUp>>;
const FP_A = 'a'.repeat(64);
const FP_B = `${'0123456789abcdef'.repeat(4)}`;
const post = (u: User, path: string, body: unknown) =>
  u.api(path, { method: 'POST', body: JSON.stringify(body) });
const duplicates = async (u: User, files: unknown) => {
  const res = await post(u, '/api/uploads/duplicates', { files });
  expect(res.status).toBe(200);
  return ((await res.json()) as { matches: Array<Record<string, unknown>> }).matches;
};

describe('duplicate uploads', () => {
  it('finds a file this user opened an upload for, by size and fingerprint, and only theirs', async () => {
    const u = await signUp(server.url);
    const other = await signUp(server.url);
    const res = await post(u, '/api/upload-sessions', {
      files: [
        { name: 'holiday.mp4', size: 5_000_000, fingerprint: FP_A },
        { name: 'no-print.mp4', size: 7_000 },
      ],
    });
    expect(res.status).toBe(201);
    const session = (await res.json()) as { files: Array<{ videoId: string }> };
    const stored = await server.node.ctx.db
      .selectFrom('videos')
      .select(['id', 'fingerprint'])
      .where('id', '=', session.files[0]!.videoId)
      .executeTakeFirstOrThrow();
    expect(stored.fingerprint).toBe(FP_A);

    const matches = await duplicates(u, [
      { size: 1, fingerprint: FP_B },
      { size: 5_000_000, fingerprint: FP_A },
      { size: 5_000_001, fingerprint: FP_A },
      { size: 5_000_000, fingerprint: FP_B },
    ]);
    expect(matches).toEqual([
      {
        index: 1,
        videoId: session.files[0]!.videoId,
        name: 'holiday.mp4',
        status: 'pending_upload',
        createdAt: expect.any(String),
      },
    ]);
    expect(await duplicates(other, [{ size: 5_000_000, fingerprint: FP_A }])).toEqual([]);

    // Ready and failed copies: a ready one is a duplicate, a failed one is no usable copy.
    const db = server.node.ctx.db;
    await db
      .updateTable('videos')
      .set({ status: 'ready' })
      .where('id', '=', session.files[0]!.videoId)
      .execute();
    expect((await duplicates(u, [{ size: 5_000_000, fingerprint: FP_A }]))[0]?.status).toBe('ready');
    await db
      .updateTable('videos')
      .set({ status: 'failed' })
      .where('id', '=', session.files[0]!.videoId)
      .execute();
    expect(await duplicates(u, [{ size: 5_000_000, fingerprint: FP_A }])).toEqual([]);
    await db
      .updateTable('videos')
      .set({ status: 'pending_upload' })
      .where('id', '=', session.files[0]!.videoId)
      .execute();

    // A canceled upload holds no bytes: the same file again is no duplicate of it.
    const del = await u.api(`/api/uploads/${session.files[0]!.videoId}`, {
      method: 'DELETE',
      headers: { 'tus-resumable': '1.0.0' },
    });
    expect(del.status).toBe(204);
    expect(await duplicates(u, [{ size: 5_000_000, fingerprint: FP_A }])).toEqual([]);
  });

  it('refuses bad input with 400 VALIDATION_FAILED, and an anonymous caller with 401', async () => {
    const u = await signUp(server.url);
    const bad: unknown[] = [
      {},
      { files: [] },
      { files: [{ size: 10 }] },
      { files: [{ size: 10, fingerprint: 'xyz' }] },
      { files: [{ size: 10, fingerprint: FP_A.toUpperCase() }] },
      { files: [{ size: -1, fingerprint: FP_A }] },
      { files: [{ size: 1.5, fingerprint: FP_A }] },
      { files: Array.from({ length: 1001 }, () => ({ size: 10, fingerprint: FP_A })) },
    ];
    for (const body of bad) {
      const res = await post(u, '/api/uploads/duplicates', body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      const err = (await res.json()) as { error: { code: string; message: string } };
      expect(err.error.code).toBe('VALIDATION_FAILED');
      expect(err.error.message.length).toBeGreaterThan(5);
    }
    const session = await post(u, '/api/upload-sessions', {
      files: [{ name: 'a.mp4', size: 10, fingerprint: 'not-hex' }],
    });
    expect(session.status).toBe(400);
    const anon = await fetch(`${server.url}/api/uploads/duplicates`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ files: [{ size: 10, fingerprint: FP_A }] }),
    });
    expect(anon.status).toBe(401);
  });
});
