// App info, engine status and attachments.
import type { AttachmentStore } from '../attachments/attachment-store';
import type { Engine } from '../engine/engine';
import type { coreContract } from '../shared/contracts/core';
import type { Handlers } from '../shared/dispatcher';
import { setKvCacheCap } from '../store/app-settings';
import type { HistoryStore } from '../store/history-store';
import type { Theme } from '../shared/theme';
import { watchUntilAborted } from './watch';

/** The desktop window's frame (electron/main/window-theme.ts); absent headless. */
export interface WindowTheme {
  set(theme: Theme): Promise<void>;
}

export function createCoreHandlers(deps: {
  engine: Engine;
  history: Pick<HistoryStore, 'db'>;
  attachments: AttachmentStore;
  app: { name: string; version: string };
  startupNotices?: readonly string[];
  windowTheme?: WindowTheme | undefined;
}): Handlers<typeof coreContract> {
  const { engine, history, attachments, app } = deps;
  return {
    'app.info': async (_input, ctx) => ({ name: app.name, version: app.version, transport: ctx.transport, notices: [...(deps.startupNotices ?? [])] }),

    'app.setTheme': async ({ theme }) => {
      if (!deps.windowTheme) return { applied: false };
      await deps.windowTheme.set(theme);
      return { applied: true };
    },

    'engine.status': async () => engine.status(),
    'engine.clearCache': async () => ({ bytes: (await engine.clearKvCache?.()) ?? 0 }),
    // Saved first: the cap the next start passes to the engine (createBackend) is the one shown now.
    'engine.setCacheCap': async ({ bytes }) => {
      setKvCacheCap(history.db, bytes);
      return (await engine.setCacheCap?.(bytes)) ?? engine.status().kvCache ?? { bytes: 0, capBytes: bytes ?? 0 };
    },

    'engine.watch': (_input, emit, signal) => watchUntilAborted(signal, emit, (l) => engine.onStatus(l), () => engine.status()),

    'attachments.add': async ({ data }) => attachments.add(data),
  };
}
