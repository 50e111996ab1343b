// The desktop app's own-port OpenAI API server: on/off, port, host, key shown and rotated.
export const apiServerContract = {} as const;
