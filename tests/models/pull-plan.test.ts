import { describe, expect, it } from 'vitest';
import { planPull } from '../../electron/models/pull-plan';

describe('what a pull fetches', () => {
  it('a Hugging Face pair whose two files share a name in different folders gets two files in the model folder', () => {
    const plan = planPull({ hfRepo: 'someone/llava-gguf', modelFile: 'q4_k/ggml-model.gguf', mmprojFile: 'projector/ggml-model.gguf' }, []);
    const [model, mmproj] = plan.files;
    expect(model?.url).toMatch(/\/q4_k\/ggml-model\.gguf$/);
    expect(mmproj?.url).toMatch(/\/projector\/ggml-model\.gguf$/);
    expect(model?.fileName).toBe('ggml-model.gguf');
    expect(mmproj?.fileName).toBe('mmproj-ggml-model.gguf');
  });

  it('two URLs with the same file name get the same two names as a Hugging Face pull', () => {
    const plan = planPull({ modelUrl: 'http://127.0.0.1:1/a/ggml-model.gguf', mmprojUrl: 'http://127.0.0.1:1/b/ggml-model.gguf' }, []);
    expect(plan.files.map((f) => f.fileName)).toEqual(['ggml-model.gguf', 'mmproj-ggml-model.gguf']);
  });
});
