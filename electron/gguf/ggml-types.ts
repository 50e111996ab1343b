// GGML tensor types and GGUF metadata value types, as numbered in the GGUF format
// (ggml.h / gguf-py constants.py). Ids 4, 5 and 31..33, 36..38 were removed from ggml
// and are rejected like unknown ids.

export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
  NVFP4: 40,
  Q1_0: 41,
  Q2_0: 42,
} as const;

export type GgmlTypeName = keyof typeof GgmlType;
export type GgmlTypeId = (typeof GgmlType)[GgmlTypeName];

export interface GgmlTypeInfo {
  id: GgmlTypeId;
  name: GgmlTypeName;
  /** Elements per block; the first dimension of a tensor must be a multiple of it. */
  blockSize: number;
  bytesPerBlock: number;
}

const QK_K = 256;

// [name, elements per block, bytes per block]
const TABLE: ReadonlyArray<readonly [GgmlTypeName, number, number]> = [
  ['F32', 1, 4],
  ['F16', 1, 2],
  ['Q4_0', 32, 2 + 16],
  ['Q4_1', 32, 2 + 2 + 16],
  ['Q5_0', 32, 2 + 4 + 16],
  ['Q5_1', 32, 2 + 2 + 4 + 16],
  ['Q8_0', 32, 2 + 32],
  ['Q8_1', 32, 4 + 4 + 32],
  ['Q2_K', QK_K, 2 + 2 + QK_K / 16 + QK_K / 4],
  ['Q3_K', QK_K, 2 + QK_K / 4 + QK_K / 8 + 12],
  ['Q4_K', QK_K, 2 + 2 + QK_K / 2 + 12],
  ['Q5_K', QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12],
  ['Q6_K', QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16],
  ['Q8_K', QK_K, 4 + QK_K + QK_K / 8],
  ['IQ2_XXS', QK_K, 2 + QK_K / 4],
  ['IQ2_XS', QK_K, 2 + QK_K / 4 + QK_K / 32],
  ['IQ3_XXS', QK_K, 2 + QK_K / 4 + QK_K / 8],
  ['IQ1_S', QK_K, 2 + QK_K / 8 + QK_K / 16],
  ['IQ4_NL', 32, 2 + 16],
  ['IQ3_S', QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4],
  ['IQ2_S', QK_K, 2 + QK_K / 4 + QK_K / 16],
  ['IQ4_XS', QK_K, 2 + 2 + QK_K / 2 + QK_K / 64],
  ['I8', 1, 1],
  ['I16', 1, 2],
  ['I32', 1, 4],
  ['I64', 1, 8],
  ['F64', 1, 8],
  ['IQ1_M', QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32],
  ['BF16', 1, 2],
  ['TQ1_0', QK_K, 2 + 4 * 13],
  ['TQ2_0', QK_K, 2 + 64],
  ['MXFP4', 32, 1 + 16],
  ['NVFP4', 64, 4 + 32],
  ['Q1_0', 128, 2 + 16],
  ['Q2_0', 64, 2 + 16],
];

const BY_ID = new Map<number, GgmlTypeInfo>(
  TABLE.map(([name, blockSize, bytesPerBlock]) => [GgmlType[name], { id: GgmlType[name], name, blockSize, bytesPerBlock }]),
);

export function ggmlTypeInfo(id: number): GgmlTypeInfo | undefined {
  return BY_ID.get(id);
}

export function ggmlTypeName(id: number): string {
  return BY_ID.get(id)?.name ?? `type ${id}`;
}

export const GGML_MAX_DIMS = 4;
/** ggml stores tensor names in a 64-byte buffer including the NUL terminator. */
export const GGML_MAX_NAME = 64;

/** Number of elements; throws RangeError when it is not a safe integer. */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`bad dimension ${d}`);
    n *= d;
    if (!Number.isSafeInteger(n)) throw new RangeError('element count overflows');
  }
  return n;
}

/**
 * Bytes taken by a tensor of this type and shape (dims in GGUF order: dims[0] is the
 * innermost, contiguous dimension). Throws RangeError for unknown types, a first dimension
 * that is not a whole number of blocks, or sizes beyond 2^53.
 */
export function tensorByteSize(type: number, dims: readonly number[]): number {
  const info = BY_ID.get(type);
  if (!info) throw new RangeError(`unknown tensor type ${type}`);
  const n = elementCount(dims);
  const first = dims.length > 0 ? (dims[0] as number) : 1;
  if (first % info.blockSize !== 0) {
    throw new RangeError(`first dimension ${first} is not a multiple of the ${info.name} block size ${info.blockSize}`);
  }
  const bytes = (n / info.blockSize) * info.bytesPerBlock;
  if (!Number.isSafeInteger(bytes)) throw new RangeError('tensor size overflows');
  return bytes;
}

export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

export type GgufValueTypeName = keyof typeof GgufValueType;
export type GgufValueTypeId = (typeof GgufValueType)[GgufValueTypeName];

const VALUE_TYPE_NAMES = new Map<number, GgufValueTypeName>(
  (Object.keys(GgufValueType) as GgufValueTypeName[]).map((k) => [GgufValueType[k], k]),
);

export function isGgufValueType(id: number): id is GgufValueTypeId {
  return VALUE_TYPE_NAMES.has(id);
}

export function ggufValueTypeName(id: number): string {
  return VALUE_TYPE_NAMES.get(id) ?? `value type ${id}`;
}

/** Size on disk of a fixed-size value type; undefined for STRING and ARRAY. */
export function ggufScalarSize(id: number): number | undefined {
  switch (id) {
    case GgufValueType.UINT8:
    case GgufValueType.INT8:
    case GgufValueType.BOOL:
      return 1;
    case GgufValueType.UINT16:
    case GgufValueType.INT16:
      return 2;
    case GgufValueType.UINT32:
    case GgufValueType.INT32:
    case GgufValueType.FLOAT32:
      return 4;
    case GgufValueType.UINT64:
    case GgufValueType.INT64:
    case GgufValueType.FLOAT64:
      return 8;
    default:
      return undefined;
  }
}

/** Names of llama_ftype values (llama.h; gaps are types llama.cpp removed), as users see them on model files. */
const FILE_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M',
  13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS',
  21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S',
  29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0',
};

/** "Q4_K_M" for general.file_type 15; null when the file does not say or the value is unknown. */
export function fileTypeName(fileType: number | undefined): string | null {
  return fileType === undefined ? null : (FILE_TYPE_NAMES[fileType] ?? null);
}

/** llama_ftype values written as general.file_type (llama.h). */
export const LlamaFileType = {
  ALL_F32: 0,
  MOSTLY_F16: 1,
  MOSTLY_Q4_0: 2,
  MOSTLY_Q8_0: 7,
  MOSTLY_Q4_K_M: 15,
} as const;
