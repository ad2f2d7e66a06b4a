/** Which view is showing, kept in the URL hash (#/jobs) so reload and the back button keep the place. */
class Nav {
  current = $state(readHash());

  constructor() {
    if (typeof window !== 'undefined') {
      window.addEventListener('hashchange', () => (this.current = readHash()));
    }
  }

  /** Shows a view by id. */
  go(id: string): void {
    if (this.current === id) return;
    location.hash = `#/${id}`;
    this.current = id;
  }
}

function readHash(): string {
  if (typeof location === 'undefined') return '';
  return location.hash.replace(/^#\/?/, '');
}

/** The page's navigation. */
export const nav = new Nav();
