import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp, startTestServer, type TestServer } from '../helpers/server.ts';
import { makeGood } from '../media/fixtures.ts';
import { type CliJson, createApiToken, fileSha, originalSha, runCli } from './helpers.ts';

let server: TestServer;
let dir: string;
let mov: string;
let webm: string;
beforeAll(async () => {
  // Two videos' worth of credits per account, so a third file runs out.
  server = await startTestServer({ CLIPDOCK_ROLE: 'api', STARTING_CREDITS: '20', CREDITS_PER_VIDEO: '10' });
  dir = await mkdtemp(path.join(os.tmpdir(), 'clipdock-cli-refusals-'));
  mov = await makeGood('h264_aac_mov', dir);
  webm = await makeGood('vp9_opus', dir);
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function account() {
  const user = await signUp(server.url);
  const token = await createApiToken(user.api);
  const env = { CLIPDOCK_URL: server.url, CLIPDOCK_TOKEN: token };
  const videos = async () =>
    ((await (await user.api('/api/videos')).json()) as { videos: Array<{ id: string; name: string }> })
      .videos;
  return { user, token, env, videos };
}

const fresh = async (name: string) => {
  const sub = await mkdtemp(path.join(dir, `${name}-`));
  return { sub, state: path.join(sub, 'state.json') };
};

describe('clipdock upload: tokens', () => {
  it('refuses a wrong, a revoked and a missing token with a clear message and exit code 3', async () => {
    const { user, token, videos } = await account();
    const { state } = await fresh('tokens');
    const wrong = runCli(['upload', '--state', state, mov], {
      CLIPDOCK_URL: server.url,
      CLIPDOCK_TOKEN: 'cd_wrong',
    });
    expect(await wrong.exit).toBe(3);
    expect(wrong.stderr()).toMatch(/^clipdock: The server refused the API token .*--token or CLIPDOCK_TOKEN/);
    expect(wrong.stdout()).toBe('');

    const { tokens } = (await (await user.api('/api/tokens')).json()) as { tokens: Array<{ id: string }> };
    expect((await user.api(`/api/tokens/${tokens[0]!.id}`, { method: 'DELETE' })).status).toBe(204);
    const revoked = runCli(['upload', '--url', server.url, '--token', token, '--state', state, mov]);
    expect(await revoked.exit).toBe(3);
    expect(revoked.stderr()).toMatch(/refused the API token/);

    const scripted = runCli([
      'upload',
      '--json',
      '--url',
      server.url,
      '--token',
      token,
      '--state',
      state,
      mov,
    ]);
    expect(await scripted.exit).toBe(3);
    expect(JSON.parse(scripted.stdout())).toMatchObject({
      ok: false,
      exitCode: 3,
      error: { code: 'UNAUTHENTICATED' },
    });

    const missing = runCli(['upload', '--url', server.url, '--state', state, mov]);
    expect(await missing.exit).toBe(3);
    expect(missing.stderr()).toMatch(/No API token/);
    expect(await videos()).toHaveLength(0);
  });

  it('answers bad flags, no video files and an unreachable server with their own exit codes', async () => {
    const usage = runCli(['upload', '--parallel', 'many', mov], { CLIPDOCK_TOKEN: 'x' });
    expect(await usage.exit).toBe(2);
    expect(usage.stderr()).toMatch(/--parallel must be a whole number/);
    const { env } = await account();
    const none = runCli(['upload', path.join(dir, 'nothing-here')], env);
    expect(await none.exit).toBe(2);
    expect(none.stderr()).toMatch(/No video files to upload .*\n.*nothing-here: No such file or folder\./);
    const down = runCli(['upload', mov], { CLIPDOCK_URL: 'http://127.0.0.1:9', CLIPDOCK_TOKEN: 'x' });
    expect(await down.exit).toBe(5);
    expect(down.stderr()).toMatch(/Cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});

describe('clipdock upload: folders and refused files', () => {
  it('walks a folder for video files (links to files too), and a second run uploads nothing again', async () => {
    const { token, env, videos } = await account();
    const { sub, state } = await fresh('folder');
    const folder = path.join(sub, 'footage');
    await mkdir(path.join(folder, 'day2'), { recursive: true });
    await copyFile(mov, path.join(folder, 'a.mov'));
    // A link to a file counts as the file.
    await symlink(webm, path.join(folder, 'day2', 'b.webm'));
    await writeFile(path.join(folder, 'notes.txt'), 'not a video');
    await copyFile(mov, path.join(folder, '.hidden.mov'));

    const run = runCli(['upload', '--json', '--state', state, folder], env);
    expect(await run.exit, run.stderr()).toBe(0);
    const result = JSON.parse(run.stdout()) as CliJson;
    expect(result.files.map((f) => path.relative(folder, f.path))).toEqual(['a.mov', 'day2/b.webm']);
    for (const f of result.files) {
      expect(f.upload).toBe('uploaded');
      expect(await originalSha(server.url, token, f.videoId!)).toBe(await fileSha(f.path));
    }
    expect((await videos()).map((v) => v.name).sort()).toEqual(['a.mov', 'b.webm']);

    const again = runCli(['upload', '--json', '--state', state, folder], env);
    expect(await again.exit, again.stderr()).toBe(0);
    const second = JSON.parse(again.stdout()) as CliJson;
    expect(second.files.map((f) => [f.upload, f.videoId])).toEqual(
      result.files.map((f) => ['already_uploaded', f.videoId]),
    );
    expect(await videos()).toHaveLength(2);
  });

  it('reports each refused file with the server code, uploads the rest, exits 1', async () => {
    const { env, videos } = await account();
    const { sub, state } = await fresh('refused');
    const notes = path.join(sub, 'notes.txt');
    const empty = path.join(sub, 'empty.mp4');
    const fake = path.join(sub, 'fake.mp4');
    await writeFile(notes, 'not a video');
    await writeFile(empty, '');
    await writeFile(fake, 'This is a text file, whatever its name says.\n'.repeat(2000));

    const missing = path.join(sub, 'nope.mov');
    const run = runCli(['upload', '--json', '--state', state, notes, empty, mov, fake, missing], env);
    expect(await run.exit, run.stderr()).toBe(1);
    const result = JSON.parse(run.stdout()) as CliJson;
    const by = Object.fromEntries(result.files.map((f) => [f.name, f]));
    expect(by['notes.txt']).toMatchObject({
      upload: 'refused',
      videoId: null,
      error: { code: 'UNSUPPORTED_FILE_TYPE' },
    });
    expect(by['empty.mp4']).toMatchObject({
      upload: 'refused',
      videoId: null,
      error: { code: 'FILE_EMPTY' },
    });
    expect(by['phone.mov']).toMatchObject({ upload: 'uploaded', error: null });
    // Refused by its content at the first bytes: its video fails, the others go on.
    expect(by['fake.mp4']).toMatchObject({ upload: 'failed', error: { code: 'NOT_A_VIDEO' } });
    expect(result.skipped).toEqual([{ path: missing, reason: 'No such file or folder.' }]);
    expect(run.stderr()).toMatch(/✗ notes\.txt: refused: "notes\.txt" is not an accepted video type/);
    expect((await videos()).map((v) => v.name).sort()).toEqual(['fake.mp4', 'phone.mov']);
  });

  it('stops with exit code 4 and nothing created when the credits do not cover the files', async () => {
    const { env, videos } = await account();
    const { sub, state } = await fresh('credits');
    const files = await Promise.all(
      ['one.mov', 'two.mov', 'three.mov'].map(async (n) => {
        await copyFile(mov, path.join(sub, n));
        return path.join(sub, n);
      }),
    );
    const run = runCli(['upload', '--state', state, ...files], env);
    expect(await run.exit).toBe(4);
    expect(run.stdout()).toMatch(/3 files: 0 uploaded, .*3 refused/);
    expect(run.stderr()).toMatch(/credits/i);
    expect(await videos()).toHaveLength(0);
  });
});
