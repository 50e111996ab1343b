// The tokenizer arrays of a text model, checked the way llama.cpp's vocabulary loader reads them:
// it indexes scores and token types up to the vocabulary size, reinterprets their bytes as
// float32 / int32, aborts on a duplicate token, and looks tokens up with unordered_map::at (a C++
// exception on every chat when a byte token is missing).
import { GgufValueType, ggufValueTypeName } from '../gguf/ggml-types';
import { metaArray, metaString, type GgufArray, type GgufFile } from '../gguf/gguf-reader';
import { spmByteToken, TOKENIZER_MODELS } from '../gguf/llama-metadata';

type Bad = (reason: string) => Error;

const TOKENS = 'tokenizer.ggml.tokens';

function typedArray(file: GgufFile, key: string, itemType: number, length: number, bad: Bad): void {
  const a = metaArray(file, key);
  if (!a) {
    if (file.metadata.has(key)) throw bad(`${key} is not an array`);
    return; // optional: llama.cpp then uses defaults
  }
  if (a.itemType !== itemType) {
    throw bad(`${key} holds ${ggufValueTypeName(a.itemType)} values, but llama.cpp reads it as ${ggufValueTypeName(itemType)}`);
  }
  if (a.items.length !== length) throw bad(`${key} has ${a.items.length} entries but the vocabulary has ${length} tokens`);
}

/** GPT-2's byte-to-character table: the vocabulary form of each raw byte in byte-level BPE. */
function gpt2ByteChars(): string[] {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(printable(b) ? b : next++));
  return out;
}

function checkMerges(file: GgufFile, bad: Bad): void {
  const key = 'tokenizer.ggml.merges';
  const merges = metaArray(file, key);
  if (!merges || merges.items.length === 0) throw bad(`${key} is missing: a "gpt2" (BPE) tokenizer needs its merge list`);
  if (merges.itemType !== GgufValueType.STRING) throw bad(`${key} holds ${ggufValueTypeName(merges.itemType)} values, not strings`);
  const i = merges.items.findIndex((m) => typeof m !== 'string' || m.indexOf(' ', 1) < 1);
  if (i >= 0) throw bad(`${key} entry ${i} is not two tokens separated by a space`);
}

/** Every byte must have a token: llama.cpp falls back to bytes for text outside the vocabulary. */
function checkByteTokens(model: string, known: Set<string>, bad: Bad): void {
  const forms = model === 'gpt2' ? gpt2ByteChars() : null;
  for (let b = 0; b < 256; b++) {
    if (forms) {
      if (!known.has(forms[b] as string)) throw bad(`${TOKENS} lacks the byte-level token for byte ${b}, which llama.cpp needs to encode any text`);
    } else if (!known.has(spmByteToken(b)) && !(b < 0x80 && known.has(String.fromCharCode(b)))) {
      throw bad(`${TOKENS} lacks the byte token ${spmByteToken(b)}, which llama.cpp looks up for characters outside the vocabulary`);
    }
  }
}

/** Checks the vocabulary and returns its size. */
export function checkTokenizer(file: GgufFile, bad: Bad): number {
  const tokens: GgufArray | undefined = metaArray(file, TOKENS);
  if (!tokens || tokens.items.length === 0) throw bad(`it has no tokenizer vocabulary (${TOKENS})`);
  if (tokens.itemType !== GgufValueType.STRING) throw bad(`${TOKENS} holds ${ggufValueTypeName(tokens.itemType)} values, not strings`);
  const n = tokens.items.length;
  const seen = new Map<string, number>();
  tokens.items.forEach((t, i) => {
    if (t === '') throw bad(`${TOKENS} entry ${i} is an empty string: the vocabulary is damaged`);
    const first = seen.get(t as string);
    // Invalid UTF-8 reads as U+FFFD, so two different raw-byte tokens can look the same here.
    if (first !== undefined && !(t as string).includes('\uFFFD')) throw bad(`${TOKENS} has "${String(t)}" twice (entries ${first} and ${i}), which aborts llama.cpp`);
    seen.set(t as string, i);
  });

  const modelKey = 'tokenizer.ggml.model';
  const model = metaString(file, modelKey);
  if (model === undefined) throw bad(`${modelKey} is missing, so llama.cpp cannot tell how to tokenize`);
  if (!(TOKENIZER_MODELS as readonly string[]).includes(model)) {
    throw bad(`${modelKey} is "${model}", but FireLLaVA runs only ${TOKENIZER_MODELS.map((m) => `"${m}"`).join(' or ')} tokenizers`);
  }
  typedArray(file, 'tokenizer.ggml.scores', GgufValueType.FLOAT32, n, bad);
  typedArray(file, 'tokenizer.ggml.token_type', GgufValueType.INT32, n, bad);
  if (model === 'gpt2') checkMerges(file, bad);
  checkByteTokens(model, new Set(seen.keys()), bad);
  return n;
}
