// Blocking script in <head>: applies the saved theme before the first paint, so a reload never
// flashes the other theme. Key and values as in renderer/src/lib/theme.svelte.ts.
try {
  var theme = localStorage.getItem('firellava.theme');
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
} catch (e) {
  // storage disabled: follow the system
}
