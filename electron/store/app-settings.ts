// App-level settings in the history database (table app_settings, migration 9): one text value per key.
import type Database from 'better-sqlite3';

/** The keys in use. Migration 9's trigger names default_preset too (it clears it when that preset is deleted). */
export type SettingKey = 'default_preset';

export function getSetting(db: Database.Database, key: SettingKey): string | null {
  const row = db.prepare('SELECT value FROM app_settings WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value ?? null;
}

/** null removes the key. */
export function setSetting(db: Database.Database, key: SettingKey, value: string | null): void {
  if (value === null) db.prepare('DELETE FROM app_settings WHERE key = ?').run(key);
  else db.prepare('INSERT INTO app_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}
