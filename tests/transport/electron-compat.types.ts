// Compile-time only: Electron's real objects must fit the structural types our transport expects.
import type { IpcMain, IpcRenderer } from 'electron';
import type { IpcMainLike } from '../../electron/transport/ipc-main';
import type { IpcRendererLike } from '../../electron/transport/ipc-client';

export const mainFits = (m: IpcMain): IpcMainLike => m;
export const rendererFits = (r: IpcRenderer): IpcRendererLike => r;
