import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

const s3 = { STORAGE_DRIVER: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's' };

describe('S3_UPLOAD_PART_MIB', () => {
  it('defaults to 8 MiB parts', () => {
    expect(loadConfig(s3).storage).toMatchObject({ driver: 's3', uploadPartBytes: 8 * 1024 * 1024 });
    expect(loadConfig({ ...s3, S3_UPLOAD_PART_MIB: '16' }).storage).toMatchObject({
      uploadPartBytes: 16 * 1024 * 1024,
    });
  });

  it("refuses parts below S3's 5 MiB minimum, and parts too small for the largest file", () => {
    expect(() => loadConfig({ ...s3, S3_UPLOAD_PART_MIB: '4' })).toThrow(/S3_UPLOAD_PART_MIB/);
    expect(() => loadConfig({ ...s3, MAX_FILE_BYTES: String(100 * 1024 ** 3) })).toThrow(
      /S3_UPLOAD_PART_MIB: 8 MiB parts hold at most 80000 MiB.*raise it to 11/,
    );
    expect(() =>
      loadConfig({ ...s3, MAX_FILE_BYTES: String(100 * 1024 ** 3), S3_UPLOAD_PART_MIB: '11' }),
    ).not.toThrow();
  });
});
