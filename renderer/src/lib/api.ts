// One client for the whole renderer: Electron's preload bridge when present, else the headless
// server over HTTP on this page's origin (authenticated by its HttpOnly cookie).
import type { ContractClient } from '../../../electron/shared/client';
import { createHttpClient } from '../../../electron/transport/http-client';

declare global {
  interface Window {
    api?: ContractClient;
  }
}

export function getClient(): ContractClient {
  return window.api ?? createHttpClient();
}
