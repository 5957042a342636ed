import { describe, expect, it } from 'vitest';
import { modelSignalTypeNames } from './model-signal-names.js';

describe('modelSignalTypeNames', () => {
  it('a lone model keeps the base name; none gives none', () => {
    expect(modelSignalTypeNames('url-model', ['url-lexical-logreg'])).toEqual(['url-model']);
    expect(modelSignalTypeNames('url-model', [])).toEqual([]);
  });

  it('several models get one kebab-case name each, ids differing only in punctuation included', () => {
    expect(modelSignalTypeNames('image-model', ['nsfw.v2', 'nsfw_v2', 'gore-', 'nsfw-v2'])).toEqual([
      'image-model-nsfw-v2',
      'image-model-nsfw-v2-2',
      'image-model-gore',
      'image-model-nsfw-v2-3',
    ]);
  });
});
