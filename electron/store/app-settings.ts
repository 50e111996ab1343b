// App-level settings in the history database (table app_settings, migration 9): one text value per key.
import type Database from 'better-sqlite3';
import { isKvCacheCap } from '../shared/limits';

/** The keys in use. Migration 9's trigger names default_preset too (it clears it when that preset is deleted). */
export type SettingKey = 'default_preset' | 'kv_cache_cap_bytes';

export function getSetting(db: Database.Database, key: SettingKey): string | null {
  const row = db.prepare('SELECT value FROM app_settings WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value ?? null;
}

/** null removes the key. */
export function setSetting(db: Database.Database, key: SettingKey, value: string | null): void {
  if (value === null) db.prepare('DELETE FROM app_settings WHERE key = ?').run(key);
  else db.prepare('INSERT INTO app_settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}

/** The user's KV cache cap in bytes; null: the engine's default (also for a value out of range). */
export function getKvCacheCap(db: Database.Database): number | null {
  const n = Number(getSetting(db, 'kv_cache_cap_bytes') ?? NaN);
  return isKvCacheCap(n) ? n : null;
}

export function setKvCacheCap(db: Database.Database, bytes: number | null): void {
  setSetting(db, 'kv_cache_cap_bytes', bytes === null ? null : String(bytes));
}
