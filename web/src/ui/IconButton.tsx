import { Icon, type IconName } from './icons.tsx';

/** A button that shows only an icon; its label is its accessible name and tooltip. */
export function IconButton({ icon, label, onClick }: { icon: IconName; label: string; onClick: () => void }) {
  return (
    <button type="button" className="btn icon-only ghost" aria-label={label} title={label} onClick={onClick}>
      <Icon name={icon} size={16} />
    </button>
  );
}
