import type { Video } from '../api.ts';
import { Icon } from './icons.tsx';

/** A video's poster picture, or a placeholder until it has one. */
export function Poster({ video }: { video: Video }) {
  const src = video.outputs?.poster ?? video.posterUrl;
  return src ? (
    <img className="thumb" src={src} alt="" loading="lazy" />
  ) : (
    <span className="thumb placeholder">
      <Icon name="film" />
    </span>
  );
}
