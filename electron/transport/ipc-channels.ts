// Channel names shared by the main process and the preload. One channel per mechanism, never per call.
export const IPC_CALL = 'firellava:call';
export const IPC_STREAM_START = 'firellava:stream:start';
export const IPC_STREAM_CANCEL = 'firellava:stream:cancel';
export const IPC_STREAM_EVENT = 'firellava:stream:event';
export const IPC_STREAM_END = 'firellava:stream:end';

/** Stream ids are chosen by the renderer; bounded so a bad renderer cannot grow our maps' keys. */
export const isStreamId = (id: unknown): id is number => typeof id === 'number' && Number.isSafeInteger(id) && id >= 0;
