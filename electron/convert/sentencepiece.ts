// SentencePiece tokenizer.model files are a protobuf ModelProto. We decode only what GGUF needs
// (pieces with score and type, the special ids from TrainerSpec) with a small wire-format
// reader, and encode the same subset so fixtures can write real tokenizer.model files.

/** SentencePiece piece types; GGUF's tokenizer.ggml.token_type uses the same numbers. */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface SentencePieceModel {
  pieces: string[];
  scores: number[];
  types: number[];
  /** 1 = unigram, 2 = BPE (TrainerSpec.model_type). */
  modelType: number;
  unkId: number;
  bosId: number;
  eosId: number;
  /** -1 when the model has no padding piece. */
  padId: number;
  byteFallback: boolean;
  addDummyPrefix: boolean;
}

export class ProtobufError extends Error {}

// ModelProto / SentencePiece / TrainerSpec / NormalizerSpec field numbers (sentencepiece_model.proto).
const F = {
  model: { pieces: 1, trainerSpec: 2, normalizerSpec: 3 },
  piece: { piece: 1, score: 2, type: 3 },
  trainer: { modelType: 3, vocabSize: 4, byteFallback: 35, unkId: 40, bosId: 41, eosId: 42, padId: 43 },
  normalizer: { name: 1, addDummyPrefix: 3 },
} as const;

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

class Reader {
  pos = 0;
  constructor(private readonly buf: Uint8Array, private readonly end = buf.length) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** Varint as a JS number; values above 2^53 keep their low 32 bits exact (enough for int32). */
  varint(): number {
    this.raw();
    return (this.hi >>> 0) * 2 ** 32 + (this.lo >>> 0);
  }

  private lo = 0;
  private hi = 0;

  private raw(): void {
    let lo = 0;
    let hi = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint');
      const b = this.buf[this.pos++] as number;
      if (shift < 28) lo |= (b & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (b & 0x0f) << 28;
        hi |= (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (shift - 32);
      if ((b & 0x80) === 0) {
        this.lo = lo;
        this.hi = hi;
        return;
      }
    }
    throw new ProtobufError('varint longer than 10 bytes');
  }

  int32(): number {
    this.raw();
    return this.lo | 0; // two's complement of the low 32 bits
  }

  float(): number {
    if (this.pos + 4 > this.end) throw new ProtobufError('truncated float');
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.end) throw new ProtobufError('length-delimited field runs past the end');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  tag(): { field: number; wire: number } {
    const t = this.varint();
    return { field: Math.floor(t / 8), wire: t & 7 };
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_I64) this.pos += 8;
    else if (wire === WIRE_LEN) this.bytes();
    else if (wire === WIRE_I32) this.pos += 4;
    else throw new ProtobufError(`unsupported wire type ${wire}`);
    if (this.pos > this.end) throw new ProtobufError('field runs past the end');
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseSentencePieceModel(data: Uint8Array): SentencePieceModel {
  const m: SentencePieceModel = {
    pieces: [],
    scores: [],
    types: [],
    modelType: 1,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    byteFallback: false,
    addDummyPrefix: true,
  };
  const r = new Reader(data);
  while (!r.done) {
    const { field, wire } = r.tag();
    if (field === F.model.pieces && wire === WIRE_LEN) {
      const b = r.bytes();
      const p = new Reader(b);
      let piece: string | undefined;
      let score = 0;
      let type: number = PieceType.NORMAL;
      while (!p.done) {
        const t = p.tag();
        if (t.field === F.piece.piece && t.wire === WIRE_LEN) piece = utf8.decode(p.bytes());
        else if (t.field === F.piece.score && t.wire === WIRE_I32) score = p.float();
        else if (t.field === F.piece.type && t.wire === WIRE_VARINT) type = p.varint();
        else p.skip(t.wire);
      }
      if (piece === undefined) throw new ProtobufError(`piece ${m.pieces.length} has no text`);
      if (type < 1 || type > 6) throw new ProtobufError(`piece ${m.pieces.length} has unknown type ${type}`);
      m.pieces.push(piece);
      m.scores.push(score);
      m.types.push(type);
    } else if (field === F.model.trainerSpec && wire === WIRE_LEN) {
      const t = new Reader(r.bytes());
      while (!t.done) {
        const { field: f, wire: w } = t.tag();
        if (w !== WIRE_VARINT) t.skip(w);
        else if (f === F.trainer.modelType) m.modelType = t.varint();
        else if (f === F.trainer.byteFallback) m.byteFallback = t.varint() !== 0;
        else if (f === F.trainer.unkId) m.unkId = t.int32();
        else if (f === F.trainer.bosId) m.bosId = t.int32();
        else if (f === F.trainer.eosId) m.eosId = t.int32();
        else if (f === F.trainer.padId) m.padId = t.int32();
        else t.skip(w);
      }
    } else if (field === F.model.normalizerSpec && wire === WIRE_LEN) {
      const n = new Reader(r.bytes());
      while (!n.done) {
        const { field: f, wire: w } = n.tag();
        if (f === F.normalizer.addDummyPrefix && w === WIRE_VARINT) m.addDummyPrefix = n.varint() !== 0;
        else n.skip(w);
      }
    } else {
      r.skip(wire);
    }
  }
  if (m.pieces.length === 0) throw new ProtobufError('no pieces: this is not a SentencePiece model');
  return m;
}

// ---------------------------------------------------------------------------------------------
// encoder (fixtures)

class Writer {
  private chunks: number[] = [];
  varint(v: number): void {
    if (v < 0) {
      // int32 negatives are sign-extended to 64 bits: ten bytes.
      let lo = v >>> 0;
      for (let i = 0; i < 4; i++) {
        this.chunks.push((lo & 0x7f) | 0x80);
        lo >>>= 7;
      }
      this.chunks.push((lo & 0x0f) | 0x70 | 0x80);
      for (let i = 0; i < 4; i++) this.chunks.push(0xff);
      this.chunks.push(0x01);
      return;
    }
    while (v >= 0x80) {
      this.chunks.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.chunks.push(v);
  }
  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }
  bytesField(field: number, b: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    for (const x of b) this.chunks.push(x);
  }
  floatField(field: number, v: number): void {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.chunks.push(x);
  }
  varintField(field: number, v: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

export function encodeSentencePieceModel(m: SentencePieceModel): Uint8Array {
  const enc = new TextEncoder();
  const out = new Writer();
  m.pieces.forEach((piece, i) => {
    const p = new Writer();
    p.bytesField(F.piece.piece, enc.encode(piece));
    p.floatField(F.piece.score, m.scores[i] ?? 0);
    const type = m.types[i] ?? PieceType.NORMAL;
    if (type !== PieceType.NORMAL) p.varintField(F.piece.type, type); // proto2 default
    out.bytesField(F.model.pieces, p.finish());
  });
  const t = new Writer();
  t.varintField(F.trainer.modelType, m.modelType);
  t.varintField(F.trainer.vocabSize, m.pieces.length);
  t.varintField(F.trainer.byteFallback, m.byteFallback ? 1 : 0);
  t.varintField(F.trainer.unkId, m.unkId);
  t.varintField(F.trainer.bosId, m.bosId);
  t.varintField(F.trainer.eosId, m.eosId);
  t.varintField(F.trainer.padId, m.padId);
  out.bytesField(F.model.trainerSpec, t.finish());
  const n = new Writer();
  n.bytesField(F.normalizer.name, enc.encode('identity'));
  n.varintField(F.normalizer.addDummyPrefix, m.addDummyPrefix ? 1 : 0);
  out.bytesField(F.model.normalizerSpec, n.finish());
  return out.finish();
}
