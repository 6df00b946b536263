import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.ts';

describe('config', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.role).toBe('all');
    expect(c.storage.driver).toBe('fs');
    expect(c.limits.maxFilesPerSession).toBe(20);
    expect(c.limits.maxFileBytes).toBe(10 * 1024 ** 3);
    expect(c.limits.creditsPerVideo).toBe(10);
    expect(c.dataDir).toMatch(/\.clipdock$/);
  });

  it('reports every problem in one message', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'abc', CLIPDOCK_ROLE: 'boss', STORAGE_DRIVER: 's3', DATABASE_URL: 'mysql://x' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const name of [
      'PORT',
      'CLIPDOCK_ROLE',
      'DATABASE_URL',
      'S3_BUCKET',
      'S3_ACCESS_KEY_ID',
      'S3_SECRET_ACCESS_KEY',
    ]) {
      expect(msg).toContain(name);
    }
  });

  it('parses lists and booleans', () => {
    const c = loadConfig({
      ACCEPTED_VIDEO_EXTENSIONS: 'MP4, mov',
      STORAGE_DRIVER: 's3',
      S3_BUCKET: 'b',
      S3_ACCESS_KEY_ID: 'k',
      S3_SECRET_ACCESS_KEY: 's',
      S3_FORCE_PATH_STYLE: 'true',
    });
    expect(c.limits.acceptedExtensions).toEqual(['mp4', 'mov']);
    expect(c.storage).toMatchObject({ driver: 's3', bucket: 'b', forcePathStyle: true });
  });
});
