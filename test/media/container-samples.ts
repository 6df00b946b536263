/**
 * One short real file per accepted container, as ffmpeg writes it: the detection and the
 * forced-demuxer pipeline are both checked on these.
 */
export const V = ['-f', 'lavfi', '-i', 'testsrc2=size=176x144:rate=25:duration=3'];
export const A = ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=3'];
// A keyframe a second, as cameras write: the probe's end sample seeks, and a transport stream
// with one keyframe at its start has nothing to decode after a seek.
const H264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '25'];

export const CASES: Array<{ file: string; args: string[]; id: string; demuxer: string; mime: string }> = [
  { file: 'a.mp4', args: [...V, ...H264], id: 'mp4', demuxer: 'mov', mime: 'video/mp4' },
  { file: 'a.mov', args: [...V, ...H264], id: 'mov', demuxer: 'mov', mime: 'video/quicktime' },
  { file: 'a.m4v', args: [...V, ...H264, '-f', 'ipod'], id: 'm4v', demuxer: 'mov', mime: 'video/x-m4v' },
  { file: 'a.3gp', args: [...V, ...H264], id: '3gp', demuxer: 'mov', mime: 'video/3gpp' },
  { file: 'a.3g2', args: [...V, ...H264], id: '3g2', demuxer: 'mov', mime: 'video/3gpp2' },
  { file: 'a.mkv', args: [...V, ...H264], id: 'matroska', demuxer: 'matroska', mime: 'video/x-matroska' },
  {
    file: 'a.webm',
    args: [...V, '-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '200k'],
    id: 'webm',
    demuxer: 'matroska',
    mime: 'video/webm',
  },
  { file: 'a.avi', args: [...V, '-c:v', 'mjpeg'], id: 'avi', demuxer: 'avi', mime: 'video/x-msvideo' },
  { file: 'a.ts', args: [...V, '-c:v', 'mpeg2video'], id: 'mpegts', demuxer: 'mpegts', mime: 'video/mp2t' },
  {
    file: 'a.mts',
    args: [...V, ...A, ...H264, '-c:a', 'ac3', '-f', 'mpegts', '-mpegts_m2ts_mode', '1'],
    id: 'm2ts',
    demuxer: 'mpegts',
    mime: 'video/mp2t',
  },
  {
    file: 'a.mpg',
    args: [...V, '-c:v', 'mpeg2video', '-f', 'vob'],
    id: 'mpegps',
    demuxer: 'mpeg',
    mime: 'video/mpeg',
  },
  { file: 'a.wmv', args: [...V, '-c:v', 'wmv2'], id: 'asf', demuxer: 'asf', mime: 'video/x-ms-asf' },
  { file: 'a.flv', args: [...V, '-c:v', 'flv1'], id: 'flv', demuxer: 'flv', mime: 'video/x-flv' },
  { file: 'a.ogv', args: [...V, '-c:v', 'libtheora'], id: 'ogg', demuxer: 'ogg', mime: 'video/ogg' },
  {
    file: 'a.mxf',
    args: [...V, '-c:v', 'mpeg2video', '-b:v', '2M'],
    id: 'mxf',
    demuxer: 'mxf',
    mime: 'application/mxf',
  },
];
