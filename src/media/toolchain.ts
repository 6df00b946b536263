import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { MediaBinaries } from './ffmpeg.ts';
import { REQUIRED, type Requirement } from './toolchain-requirements.ts';

/**
 * The start-up check of the media tools. A node that converts strangers' files refuses to start
 * unless ffmpeg and ffprobe are present, runnable, one release (the 2018 bundle paired a 2018
 * ffmpeg with a 2023 ffprobe that crashed on every MPEG-TS file), 5.1 or newer, and able to read
 * every accepted container and write what the steps write. Whatever fails is reported as ONE
 * sentence that says what to do: the operator sees it instead of a stack, and no video is ever
 * accepted by a node that would fail it later with an obscure ffmpeg error.
 */

const execFileP = promisify(execFile);

/** 5.1 is Debian 12's release; libavcodec 59.37 is the library that ships with it. */
const MIN_RELEASE: Version = [5, 1];
const MIN_LIBAVCODEC: Version = [59, 37];
const ANSWER_TIMEOUT_MS = 20_000;

const INSTALL_HINT =
  'install a current build with `apt-get install ffmpeg` (Debian 12, Ubuntu 24.04 or later) or `brew install ffmpeg` (macOS)';

type Version = [number, number];

export interface ToolVersion {
  path: string;
  /** As the tool states it on its first `-version` line, e.g. "5.1.9-0+deb12u1". */
  version: string;
}
export interface ToolchainInfo {
  ffmpeg: ToolVersion;
  ffprobe: ToolVersion;
}

/** The tools cannot serve; the message is one sentence an operator can act on. */
export class ToolchainError extends Error {
  override name = 'ToolchainError';
}

interface Tool {
  name: 'ffmpeg' | 'ffprobe';
  path: string;
  /** The setting that chose this path, when one did. */
  setting: 'FFMPEG_PATH' | 'FFPROBE_PATH';
  configured: boolean;
}

export interface ToolchainSettings {
  ffmpegPath: string | undefined;
  ffprobePath: string | undefined;
}

/**
 * A pair that passed is not asked again by the same process (tests start many nodes in one
 * process; a production process starts once). Failures are never remembered.
 */
const passed = new Map<string, ToolchainInfo>();

/** Runs every check; resolves with the versions, or rejects with a ToolchainError. */
export async function checkToolchain(
  bins: MediaBinaries,
  settings: ToolchainSettings,
): Promise<ToolchainInfo> {
  const key = `${bins.ffmpeg}\0${bins.ffprobe}`;
  const known = passed.get(key);
  if (known) return known;
  const info = await runChecks(bins, settings);
  passed.set(key, info);
  return info;
}

async function runChecks(bins: MediaBinaries, settings: ToolchainSettings): Promise<ToolchainInfo> {
  const ffmpeg: Tool = {
    name: 'ffmpeg',
    path: bins.ffmpeg,
    setting: 'FFMPEG_PATH',
    configured: settings.ffmpegPath !== undefined,
  };
  const ffprobe: Tool = {
    name: 'ffprobe',
    path: bins.ffprobe,
    setting: 'FFPROBE_PATH',
    configured: settings.ffprobePath !== undefined,
  };
  const [a, b] = await Promise.all([versionOf(ffmpeg), versionOf(ffprobe)]);
  for (const [tool, v] of [
    [ffmpeg, a],
    [ffprobe, b],
  ] as const) {
    if (isTooOld(v)) {
      throw new ToolchainError(
        `${where(tool)} is ${tool.name} ${v.version}, which is too old (Clipdock needs ${MIN_RELEASE.join('.')} or newer, for the decoder fixes that reading strangers' files depends on): ${INSTALL_HINT}, or set ${tool.setting} to one.`,
      );
    }
  }
  if (a.version !== b.version || a.libavcodec?.join('.') !== b.libavcodec?.join('.')) {
    throw new ToolchainError(
      `ffmpeg (${a.version}, ${a.path}) and ffprobe (${b.version}, ${b.path}) are from different releases: point FFMPEG_PATH and FFPROBE_PATH at the ffmpeg and ffprobe of one installation, or unset both to use the system's.`,
    );
  }
  const missing = await missingCapabilities(ffmpeg, ffprobe);
  if (missing.length > 0) {
    throw new ToolchainError(
      `The ${a.version} build at ${ffmpeg.path} lacks what Clipdock needs (${missing.join(', ')}): ${INSTALL_HINT}, or set FFMPEG_PATH and FFPROBE_PATH to a full build.`,
    );
  }
  return {
    ffmpeg: { path: ffmpeg.path, version: a.version },
    ffprobe: { path: ffprobe.path, version: b.version },
  };
}

interface Stated {
  path: string;
  version: string;
  release: Version | undefined;
  libavcodec: Version | undefined;
}

async function versionOf(tool: Tool): Promise<Stated> {
  const out = await ask(tool, ['-version']);
  const first = /^(\S+) version (\S+)/.exec(out);
  if (!first) {
    throw new ToolchainError(
      `${where(tool)} does not answer \`-version\` as ${tool.name} does: set ${tool.setting} to the path of ${tool.name}, or unset it to use the system's.`,
    );
  }
  if (first[1] !== tool.name) {
    throw new ToolchainError(
      `${where(tool)} is ${first[1]}, not ${tool.name}: set ${tool.setting} to the path of ${tool.name}.`,
    );
  }
  const release = /^n?(\d+)\.(\d+)/.exec(first[2]!);
  const lavc = /^libavcodec\s+(\d+)\.\s*(\d+)\./m.exec(out);
  return {
    path: tool.path,
    version: first[2]!,
    release: release ? [Number(release[1]), Number(release[2])] : undefined,
    // Git snapshots ("N-47683-g…") name no release; their libavcodec version dates them.
    libavcodec: lavc ? [Number(lavc[1]), Number(lavc[2])] : undefined,
  };
}

function isTooOld(v: Stated): boolean {
  if (!v.release && !v.libavcodec) return true;
  return (
    (v.release !== undefined && older(v.release, MIN_RELEASE)) ||
    (v.libavcodec !== undefined && older(v.libavcodec, MIN_LIBAVCODEC))
  );
}

const older = (a: Version, b: Version) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

/** What each list prints: one capability per line after the legend, flags first, then names. */
async function missingCapabilities(ffmpeg: Tool, ffprobe: Tool): Promise<string[]> {
  const lists = new Map<string, Promise<Set<string>>>();
  const list = (tool: Tool, kind: Requirement['kind']) => {
    const key = `${tool.name}:${kind}`;
    let p = lists.get(key);
    if (!p) {
      p = ask(tool, ['-hide_banner', `-${kind}s`]).then((out) => parseList(kind, out));
      lists.set(key, p);
    }
    return p;
  };
  const missing: string[] = [];
  await Promise.all(
    REQUIRED.map(async (r) => {
      const tools = r.kind === 'demuxer' || r.kind === 'decoder' ? [ffmpeg, ffprobe] : [ffmpeg];
      for (const tool of tools) {
        const have = await list(tool, r.kind);
        if (!have.has(r.name)) {
          missing.push(`${tool.name === 'ffprobe' ? 'ffprobe ' : ''}${r.kind} ${r.name}`);
        }
      }
    }),
  );
  return missing.sort();
}

/**
 * Names from `-decoders`/`-encoders` (a decoder counts for the codec it names in "(codec x)",
 * so libdav1d counts for av1), `-demuxers`/`-muxers` ("mov,mp4,m4a" is three) and `-filters`.
 */
export function parseList(kind: Requirement['kind'], out: string): Set<string> {
  const names = new Set<string>();
  for (const line of out.split('\n')) {
    if (kind === 'decoder' || kind === 'encoder') {
      const m = /^ [VAS][.A-Z]{5} (\S+)\s.*?(?:\(codec (\S+)\))?\s*$/.exec(line);
      if (!m) continue;
      names.add(m[1]!);
      if (kind === 'decoder') names.add(m[2] ?? m[1]!);
    } else if (kind === 'demuxer' || kind === 'muxer') {
      const m = /^ [D ][E ] (\S+)\s/.exec(line);
      if (!m) continue;
      const demux = line[1] === 'D';
      const mux = line[2] === 'E';
      if ((kind === 'demuxer' && demux) || (kind === 'muxer' && mux)) {
        for (const n of m[1]!.split(',')) names.add(n);
      }
    } else {
      const m = /^ [T.][S.][C.] (\S+)\s+\S+->\S+/.exec(line);
      if (m) names.add(m[1]!);
    }
  }
  return names;
}

/** stdout of a short run of the tool; any failure to run it becomes the sentence that fixes it. */
async function ask(tool: Tool, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileP(tool.path, args, {
      timeout: ANSWER_TIMEOUT_MS,
      maxBuffer: 8 * 1024 * 1024,
      encoding: 'utf8',
    });
    return stdout;
  } catch (err) {
    throw new ToolchainError(runFailure(tool, args, err as NodeJS.ErrnoException & { killed?: boolean }));
  }
}

function runFailure(tool: Tool, args: string[], err: NodeJS.ErrnoException & { killed?: boolean }): string {
  const fix = tool.configured
    ? `correct ${tool.setting}, or unset it to use the system's ${tool.name}`
    : `or set ${tool.setting} to its path`;
  if (err.code === 'ENOENT') {
    return tool.configured
      ? `${tool.name} was not found at ${tool.path} (${tool.setting}): ${INSTALL_HINT}, then ${fix}.`
      : `${tool.name} was not found on the PATH: ${INSTALL_HINT}, ${fix}.`;
  }
  if (err.code === 'EACCES') {
    return `${where(tool)} cannot be run (permission denied): ${tool.configured ? fix : `set ${tool.setting} to a ${tool.name} this user may run`}.`;
  }
  const how = err.killed
    ? `did not answer \`${args.join(' ')}\` within ${ANSWER_TIMEOUT_MS / 1000} s`
    : `failed on \`${args.join(' ')}\``;
  return `${where(tool)} ${how}: ${INSTALL_HINT}, ${tool.configured ? `then ${fix}` : `or set ${tool.setting} to a working ${tool.name}`}.`;
}

const where = (tool: Tool) =>
  tool.configured ? `${tool.setting} (${tool.path})` : `the ${tool.name} on the PATH (${tool.path})`;
