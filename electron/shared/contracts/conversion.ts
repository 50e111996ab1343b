// "Get FireLLaVA": download the official checkpoint, convert, quantize, verify, install.
export const conversionContract = {} as const;
