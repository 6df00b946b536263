import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from './helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.stop();
});

/** A video row in the given state, as the upload and processing pipeline would leave it. */
async function insertVideo(userId: string, projectId: string, status: 'ready' | 'processing', name: string) {
  const row = await server.node.ctx.db
    .insertInto('videos')
    .values({ user_id: userId, project_id: projectId, name, status, declared_size: 1000 })
    .returning('id')
    .executeTakeFirstOrThrow();
  await server.node.ctx.db
    .insertInto('video_analysis')
    .values({ video_id: row.id, metadata: JSON.stringify({ durationSeconds: 10 }) })
    .execute();
  return row.id;
}

describe('projects and timeline', () => {
  it('creates a project and keeps an ordered timeline of ready clips', async () => {
    const alice = await signUp(server.url);
    const created = await alice.api('/api/projects', {
      method: 'POST',
      body: JSON.stringify({ name: 'Trip' }),
    });
    expect(created.status).toBe(201);
    const { project } = (await created.json()) as { project: { id: string; name: string } };
    expect(project.name).toBe('Trip');
    const list = (await (await alice.api('/api/projects')).json()) as { projects: { id: string }[] };
    expect(list.projects.map((p) => p.id)).toContain(project.id);

    const a = await insertVideo(alice.user.id, project.id, 'ready', 'a.mp4');
    const b = await insertVideo(alice.user.id, project.id, 'ready', 'b.mp4');
    const c = await insertVideo(alice.user.id, project.id, 'processing', 'c.mp4');
    const put = (items: unknown[]) =>
      alice.api(`/api/projects/${project.id}/timeline`, { method: 'PUT', body: JSON.stringify({ items }) });

    let res = await put([{ videoId: a }, { videoId: b, inSeconds: 1, outSeconds: 4 }]);
    expect(res.status).toBe(200);
    const first = (await res.json()) as { items: { id: string; videoId: string; position: number }[] };
    expect(first.items.map((i) => [i.videoId, i.position])).toEqual([
      [a, 0],
      [b, 1],
    ]);

    // Swap in place: same ids, positions rewritten in one transaction (deferred unique check).
    res = await put([
      { id: first.items[1]!.id, videoId: b, inSeconds: 1, outSeconds: 4 },
      { id: first.items[0]!.id, videoId: a },
    ]);
    expect(res.status).toBe(200);
    const got = (await (await alice.api(`/api/projects/${project.id}/timeline`)).json()) as {
      items: { id: string; videoId: string; inSeconds: number; outSeconds: number | null }[];
    };
    expect(got.items.map((i) => i.id)).toEqual([first.items[1]!.id, first.items[0]!.id]);
    expect(got.items[0]).toMatchObject({ videoId: b, inSeconds: 1, outSeconds: 4 });

    expect((await put([{ videoId: c }])).status).toBe(409);
    const bad = await put([{ videoId: a, inSeconds: 5, outSeconds: 2 }]);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('TIMELINE_INVALID_RANGE');
    expect((await put([{ videoId: a, inSeconds: 0, outSeconds: 30 }])).status).toBe(400);

    // Another user sees neither the project nor can use the videos.
    const bob = await signUp(server.url);
    expect((await bob.api(`/api/projects/${project.id}/timeline`)).status).toBe(404);
    const bobProject = ((await (await bob.api('/api/projects')).json()) as { projects: { id: string }[] })
      .projects[0]!.id;
    const steal = await bob.api(`/api/projects/${bobProject}/timeline`, {
      method: 'PUT',
      body: JSON.stringify({ items: [{ videoId: a }] }),
    });
    expect(steal.status).toBe(404);
  });
});
