import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeGood } from '../media/fixtures.ts';
import { uploadedVideo } from '../processing/helpers.ts';
import { waitFor } from '../uploads/helpers.ts';
import { deliveries, startReceiver } from './helpers.ts';

describe('webhook URLs to private addresses (WEBHOOK_ALLOW_PRIVATE unset)', () => {
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let dir: string;
  let clip: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-webhooks-'));
    [server, receiver, clip] = await Promise.all([
      startTestServer(),
      startReceiver(),
      makeGood('h264_aac_mov', dir),
    ]);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('refuses them at creation with WEBHOOK_URL_PRIVATE', async () => {
    const user = await signUp(server.url);
    for (const url of [
      `${receiver.base}/hook`,
      'http://localhost:9/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.1.2.3/hook',
      'http://[::1]:9/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[fd00:ec2::254]/hook',
      'https://0.0.0.0/hook',
    ]) {
      const res = await user.api('/api/webhooks', { method: 'POST', body: JSON.stringify({ url }) });
      expect(res.status, url).toBe(422);
      expect((await res.json()).error.code, url).toBe('WEBHOOK_URL_PRIVATE');
    }
    expect((await (await user.api('/api/webhooks')).json()).webhooks).toEqual([]);
  });

  it('refuses them again at delivery time (a name that resolves elsewhere now: DNS rebinding)', async () => {
    const user = await signUp(server.url);
    // As if its host name had resolved to a public address at creation and to loopback now.
    const hook = await server.node.ctx.db
      .insertInto('webhooks')
      .values({
        user_id: user.user.id,
        project_id: null,
        url: `${receiver.base}/rebound`,
        events: ['video.deleted'],
        secret: `whsec_${Buffer.alloc(24, 7).toString('base64')}`,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const videoId = await uploadedVideo(server, user.user.id, clip, { enqueue: false });
    expect((await user.api(`/api/videos/${videoId}`, { method: 'DELETE' })).status).toBe(204);

    const [d] = await waitFor(async () => {
      const log = await deliveries(user.api, hook.id);
      return log[0] && log[0].attempts >= 1 && log;
    });
    expect(d).toMatchObject({ event: 'video.deleted', status: 'pending', lastStatusCode: null });
    expect(d!.error).toMatch(/^WEBHOOK_URL_PRIVATE/);
    expect(receiver.received).toEqual([]);
  });
});
