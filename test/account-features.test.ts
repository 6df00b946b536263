import { afterAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from './helpers/server.ts';

const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

const features = async (env: Record<string, string>) => {
  const server = await startTestServer({ CLIPDOCK_ROLE: 'api', ...env });
  servers.push(server);
  const u = await signUp(server.url);
  return ((await (await u.api('/api/me')).json()) as { features: { transcription: boolean } }).features;
};

describe('/api/me features', () => {
  it('says whether transcription runs, so the app shows the step as skipped when it does not', async () => {
    expect(await features({})).toEqual({ transcription: false });
    expect(await features({ ASSEMBLYAI_API_KEY: 'test-key' })).toEqual({ transcription: true });
  });
});
