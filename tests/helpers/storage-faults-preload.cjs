// Loaded with `node --require` into a real `firellava serve` by tests/cli/serve-storage-faults.test.ts.
// It only adds faults on command (over the IPC channel) to the server's own SQLite connections:
//   {fault:'disk-full'}  PRAGMA max_page_count = page_count: SQLite's real SQLITE_FULL on the next new page
//   {fault:'space'}      the limit back to SQLite's default
//   {fault:'throw', code} an error with that code thrown from a timer (an uncaught exception)
//   {fault:'reject'}     a promise rejected with nobody listening
// Each command is answered with {ok:true, fault}.
// The engine worker inherits --require through fork: only the serve process itself takes part.
if (typeof process.send === 'function' && process.argv[2] === 'serve') {
  const Database = require('better-sqlite3');
  const open = new Set();
  const prepare = Database.prototype.prepare;
  Database.prototype.prepare = function (...args) {
    open.add(this);
    return prepare.apply(this, args);
  };
  const pragma = Database.prototype.pragma;
  process.on('message', (m) => {
    if (!m || typeof m.fault !== 'string') return;
    for (const db of open) {
      if (!db.open || db.memory) continue;
      if (m.fault === 'disk-full') pragma.call(db, `max_page_count = ${pragma.call(db, 'page_count', { simple: true })}`);
      if (m.fault === 'space') pragma.call(db, 'max_page_count = 4294967294');
    }
    if (m.fault === 'throw') setTimeout(() => { throw Object.assign(new Error(`injected ${m.code}`), { code: m.code }); });
    if (m.fault === 'reject') void Promise.reject(new TypeError('injected rejection'));
    process.send({ ok: true, fault: m.fault });
  });
  // The channel must not keep serve alive after SIGTERM.
  process.channel?.unref();
}
