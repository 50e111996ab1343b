// Chat generation: one assistant answer streamed for a conversation.
import { z } from 'zod';
import { stream } from '../contract-kit';
import type { GenerateEvent } from '../types';

/** The one statement of generation bounds and defaults: chat sends, chat.generate and settings. */
export const generationParams = z
  .object({
    maxTokens: z.number().int().min(1).max(32_768).default(512),
    temperature: z.number().min(0).max(2).default(0.2),
    topK: z.number().int().min(0).max(1000).default(40),
    topP: z.number().min(0).max(1).default(0.95),
    seed: z.number().int().min(-1).max(2 ** 31 - 1).default(-1),
    stop: z.array(z.string().min(1).max(64)).max(8).default([]),
    /** OpenAI-style: subtract once per token already present / per occurrence. */
    presencePenalty: z.number().min(-2).max(2).optional(),
    frequencyPenalty: z.number().min(-2).max(2).optional(),
  })
  .strict();

export const chatTurnSchema = z
  .object({
    role: z.enum(['user', 'assistant']),
    text: z.string().max(200_000),
    attachmentIds: z.array(z.string().regex(/^[a-f0-9]{64}$/)).max(16).default([]),
  })
  .strict();

export const chatContract = {
  /** Streams one assistant answer for a conversation. Cancelling the stream stops generation. */
  'chat.generate': stream<GenerateEvent>()(
    z
      .object({
        conversationId: z.string().min(1).max(128),
        system: z.string().max(20_000).default(''),
        turns: z.array(chatTurnSchema).min(1).max(10_000),
        params: generationParams.default(() => generationParams.parse({})),
      })
      .strict()
      .refine((v) => v.turns[v.turns.length - 1]?.role === 'user', {
        message: 'The last turn must be a user message',
        path: ['turns'],
      }),
  ),
} as const;

export type GenerationParams = z.output<typeof generationParams>;
/** What a conversation without settings generates with. */
export const DEFAULT_GENERATION_PARAMS: GenerationParams = generationParams.parse({});
export type ChatTurn = z.output<typeof chatTurnSchema>;
