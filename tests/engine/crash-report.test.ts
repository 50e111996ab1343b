// How a worker crash is put into words: the file from the worker's stage marker, the reason from
// llama.cpp's own output (lines in the shape the binding printed for the crafted GGUFs).
import { describe, expect, it } from 'vitest';
import { describeCrash, fileBeingLoaded, nativeReason, stageMarker } from '../../electron/engine/crash-report';

const pair = { model: '/m/model.gguf', mmproj: '/m/mmproj.gguf' };

describe('crash report', () => {
  it('names the step that was loading and prefers llama.cpp\'s reason to the generic error after it', () => {
    const log = [
      'llama_model_loader: loaded meta data with 24 key-value pairs',
      stageMarker('model', pair.model),
      'llama_model_load: error loading model: Index out of array bounds for scores (399 < 400)',
      '[ERROR] loadModel:484 unable to load model: /m/model.gguf',
    ].join('\n');
    expect(fileBeingLoaded(log)).toEqual({ role: 'model', file: pair.model });
    expect(nativeReason(log)).toBe('llama_model_load: error loading model: Index out of array bounds for scores (399 < 400)');
  });

  it('ignores errors from before the step began and shortens build paths', () => {
    const log = ['some earlier error here', stageMarker('mmproj', pair.mmproj), '/home/runner/work/x/ggml/src/ggml.c:4465: GGML_ASSERT(a->ne[2] == b->ne[2]) failed'].join('\n');
    expect(nativeReason(log)).toBe('ggml.c:4465: GGML_ASSERT(a->ne[2] == b->ne[2]) failed');
    expect(describeCrash({ stage: 'load', pair, withImage: false, how: 'signal SIGABRT', log, step: fileBeingLoaded(log) })).toBe(
      'The engine crashed (signal SIGABRT) while loading the vision projector mmproj.gguf: llama.cpp said: ggml.c:4465: GGML_ASSERT(a->ne[2] == b->ne[2]) failed',
    );
    expect(nativeReason(stageMarker('model', pair.model))).toBeNull();
  });
});
