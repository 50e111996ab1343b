// Engines the chat can use: the local one and remote OpenAI-compatible endpoints, globally or per conversation.
export const enginesContract = {} as const;
