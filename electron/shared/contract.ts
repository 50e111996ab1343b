// Every call between renderer and backend, declared once. The Electron IPC transport and the
// HTTP transport of the headless server are both derived from this object. Each domain declares
// its calls in contracts/<domain>.ts; this file only joins them.
import { chatContract } from './contracts/chat';
import { coreContract } from './contracts/core';
import { conversationsContract } from './contracts/conversations';
import { modelsContract } from './contracts/models';
import { apiServerContract } from './contracts/api-server';
import { enginesContract } from './contracts/engines';
import { conversionContract } from './contracts/conversion';
import { catalogContract } from './contracts/catalog';

export const contract = {
  ...coreContract,
  ...chatContract,
  ...conversationsContract,
  ...modelsContract,
  ...apiServerContract,
  ...enginesContract,
  ...conversionContract,
  ...catalogContract,
} as const;

export type Contract = typeof contract;
export { MAX_IMAGE_BYTES } from './contracts/core';
export { chatTurnSchema, type ChatTurn, type GenerationParams } from './contracts/chat';
