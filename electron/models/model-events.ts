// What the model manager tells its listeners: job progress and "the installed list changed"
// (models.watch), and "a pair became active because none was" (the backend loads it).
import type { ModelsEvent } from '../shared/contracts/models';

export class ModelEvents {
  private readonly listeners = new Set<(e: ModelsEvent) => void>();
  private readonly firstActiveListeners = new Set<(id: string) => void>();

  onEvent(listener: (e: ModelsEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onFirstActive(listener: (id: string) => void): () => void {
    this.firstActiveListeners.add(listener);
    return () => this.firstActiveListeners.delete(listener);
  }

  emit(e: ModelsEvent): void {
    for (const l of this.listeners) l(e);
  }

  emitFirstActive(id: string): void {
    for (const l of this.firstActiveListeners) l(id);
  }
}
