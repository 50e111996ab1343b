// The conversation sidebar: docked beside the chat unless collapsed (remembered), and at narrow
// widths an overlay that starts closed and closes once a conversation is chosen.
const COLLAPSED_KEY = 'firellava.sidebarCollapsed';
/** Below this the chat keeps the whole width and the sidebar overlays it. */
export const NARROW_QUERY = '(max-width: 720px)';

export class SidebarLayout {
  /** Wide windows: hidden by the user. */
  collapsed = $state(readCollapsed());
  /** Narrow windows: shown over the chat. */
  overlayOpen = $state(false);
  narrow = $state(matchMedia(NARROW_QUERY).matches);
  readonly shown = $derived(this.narrow ? this.overlayOpen : !this.collapsed);

  /** Follows the window's width; returns the cleanup. */
  start(): () => void {
    const query = matchMedia(NARROW_QUERY);
    const onChange = (e: MediaQueryListEvent): void => {
      this.narrow = e.matches;
      this.overlayOpen = false;
    };
    query.addEventListener('change', onChange);
    return () => query.removeEventListener('change', onChange);
  }

  toggle(): void {
    if (this.narrow) {
      this.overlayOpen = !this.overlayOpen;
      return;
    }
    this.collapsed = !this.collapsed;
    try {
      localStorage.setItem(COLLAPSED_KEY, this.collapsed ? '1' : '0');
    } catch {
      // not remembered: storage disabled
    }
  }

  show(): void {
    if (!this.shown) this.toggle();
  }

  /** After a choice in the overlay: give the chat back its room. */
  closeOverlay(): void {
    this.overlayOpen = false;
  }
}

function readCollapsed(): boolean {
  try {
    return localStorage.getItem(COLLAPSED_KEY) === '1';
  } catch {
    return false;
  }
}
